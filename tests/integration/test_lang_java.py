"""Java 17 on the real engine: a Maven project and a Gradle-layout project tested, fixed, built and broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor
from sigma_exec.models import CaseOutcome, TestResult
from tests.conftest import ROOT, labelled_containers

SAMPLES = ROOT / "tests" / "samples"
BROKEN_SOURCE = "package x;\npublic final class Broken {\n  int f() { return 1 + }\n}\n"


def _counts(result: TestResult) -> tuple[int | None, ...]:
    return (result.tests_passed, result.tests_failed, result.tests_skipped, result.tests_errored)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("sample", "framework", "failing", "broken_file", "counts_before", "counts_after"),
    [
        # Maven, JUnit 5 pinned at 5.10.2 and Surefire at 3.2.5 (mapped to Debian's versions offline):
        # 3 pass, dividesTwoNumbers fails, one @Disabled; the fix adds DivideByZeroTest.
        ("java_maven", "maven", "dividesTwoNumbers", "src/main/java/demo/Calc.java", (3, 1, 1, 0), (5, 0, 1, 0)),
        # A larger library on Debian's own versions (58 cases: parametrised, nested, one @Disabled): the
        # allocation bug fails one case; the fix adds AllocationTest.
        (
            "java_maven_large",
            "maven",
            "allocatesTheRemainderToTheFirstShares",
            "src/main/java/ledger/Money.java",
            (56, 1, 1, 0),
            (59, 0, 1, 0),
        ),
        # Gradle layout, JUnit 5 (2 pass, sumsEveryItem fails, one @Disabled) and JUnit 4 through the
        # vintage engine (1 pass, one @Ignore); the fix adds the JUnit 4 CartTotalTest.
        (
            "java_gradle",
            "junit-platform",
            "sumsEveryItem()",
            "src/main/java/shop/Cart.java",
            (3, 1, 2, 0),
            (5, 0, 2, 0),
        ),
    ],
    ids=["maven-junit5", "maven-large-library", "gradle-layout-junit4-and-5"],
)
def test_a_java_project_is_tested_fixed_built_and_broken_through_the_executor(
    executor: DockerExecutor,
    project_id: str,
    sample: str,
    framework: str,
    failing: str,
    broken_file: str,
    counts_before: tuple[int, ...],
    counts_after: tuple[int, ...],
) -> None:
    workspace = SAMPLES / sample
    host_files = _files(workspace)
    changes = json.loads((SAMPLES / f"{sample}_changes.json").read_text())
    ok, cid, error = executor.create_project_container(project_id, str(workspace), "java")
    assert ok and cid, error

    before = executor.run_tests(cid, "java")
    assert _counts(before) == counts_before, before.output
    assert before.success is False and before.framework == framework
    assert before.coverage_percent is not None and 0 < before.coverage_percent <= 100
    assert any(case.name == failing and case.outcome == CaseOutcome.FAILED for case in before.cases)

    assert executor.apply_changes(cid, changes).success
    after = executor.run_tests(cid)
    assert _counts(after) == counts_after, after.output
    assert after.success is True and after.error is None
    assert after.coverage_percent is not None and 0 < after.coverage_percent <= 100

    build = executor.run_build(cid, "java")
    assert build.success, build.output

    # A syntax error fails the build, and the test run is errored with javac's message, not "0 passed".
    assert executor.apply_changes(cid, [{"filepath": broken_file, "content": BROKEN_SOURCE}]).success
    broken_build = executor.run_build(cid, "java")
    assert broken_build.success is False and "illegal start of expression" in broken_build.output
    errored = executor.run_tests(cid, "java")
    assert errored.success is False and _counts(errored) == (0, 0, 0, 1), errored.output
    assert errored.error is not None and "illegal start of expression" in errored.error
    assert errored.cases[0].outcome == CaseOutcome.ERRORED

    # Nothing was compiled into the workspace (target/ and classes live under /tmp), nor on the host.
    assert executor.execute_in_container(cid, "find . -name target -o -name '*.class'").output == ""
    assert executor.stop_container(cid) is True
    assert labelled_containers(executor, project_id) == []
    assert _files(workspace) == host_files


def _write(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)


MODULE_POM = (
    '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    "<parent><groupId>mm</groupId><artifactId>parent</artifactId><version>1.0</version></parent>"
    "<artifactId>{name}</artifactId>{deps}</project>"
)


def test_a_multi_module_maven_project_pinning_junit_4_12_is_tested_module_by_module(
    tmp_path: Path, executor: DockerExecutor, sandbox
) -> None:
    # Given a reactor (core, and app depending on core) pinning junit 4.12, which Debian does not have.
    _write(
        tmp_path,
        {
            "pom.xml": '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
            "<groupId>mm</groupId><artifactId>parent</artifactId><version>1.0</version><packaging>pom</packaging>"
            "<properties><maven.compiler.release>17</maven.compiler.release></properties>"
            "<modules><module>core</module><module>app</module></modules><dependencies><dependency>"
            "<groupId>junit</groupId><artifactId>junit</artifactId><version>4.12</version><scope>test</scope>"
            "</dependency></dependencies></project>",
            "core/pom.xml": MODULE_POM.format(name="core", deps=""),
            "app/pom.xml": MODULE_POM.format(
                name="app",
                deps="<dependencies><dependency><groupId>mm</groupId><artifactId>core</artifactId>"
                "<version>1.0</version></dependency></dependencies>",
            ),
            "core/src/main/java/m/M.java": "package m; public class M { public static int two() { return 2; } }",
            "core/src/test/java/m/MTest.java": "package m; import org.junit.*; public class MTest {"
            " @Test public void two() { Assert.assertEquals(2, M.two()); } @Ignore @Test public void later() {} }",
            "app/src/test/java/a/ATest.java": "package a; import org.junit.*; public class ATest {"
            " @Test public void three() { Assert.assertEquals(3, m.M.two()); } }",
        },
    )
    cid = sandbox(tmp_path, "java")

    result = executor.run_tests(cid, "java")

    # Then every module's Surefire report counts: core passes one and skips one, app fails one.
    assert _counts(result) == (1, 1, 1, 0), result.output
    assert {case.classname for case in result.cases} == {"m.MTest", "a.ATest"}
    assert result.coverage_percent == 100.0  # M.two() is the only main line, and it ran
    assert "Debian's packaged versions" in result.output
