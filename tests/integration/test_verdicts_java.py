"""Java verdicts an agent can trust: cases re-run by id, flaky told from broken, no stale build or result.

Both Java steps compile every source afresh on each run: maven.sh in a fresh copy of the workspace whose
target/ directories are removed (so maven-compiler's mtime-based stale-source detection never has old
classes to trust), plain.sh into a /tmp directory it empties first. These scenarios prove it on the real
engine for Maven (Surefire) and for a Gradle layout (javac and the JUnit Platform console launcher); each
Maven run costs ~15 s, so each scenario is one sandbox with several checks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor
from sigma_exec.languages import framework_by_name, resolve_language
from sigma_exec.models import CaseOutcome
from tests.integration.verdict_helpers import outcomes as _outcomes
from tests.integration.verdict_helpers import write_files as _write

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>demo</groupId><artifactId>verdicts</artifactId><version>1.0</version>
<properties><maven.compiler.release>17</maven.compiler.release>
<project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
<dependencies><dependency><groupId>org.junit.jupiter</groupId><artifactId>junit-jupiter</artifactId>
<version>5.9.2</version><scope>test</scope></dependency></dependencies>
<build><plugins>
<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-surefire-plugin</artifactId><version>2.22.3</version></plugin>
</plugins></build></project>
"""
LAYOUTS = {"maven": {"pom.xml": POM}, "junit-platform": {"build.gradle": "plugins { id 'java' }\n"}}
MAIN = "src/main/java/demo"
TEST = "src/test/java/demo"

# The parametrised case fails on its first run in a sandbox and passes after (a marker file under /tmp
# remembers that run); broken always fails.
FLAKY_TEST = """package demo;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FlakyTest {
    @ParameterizedTest
    @ValueSource(strings = {"steady", "once"})
    void flaky(String kind) throws IOException {
        Path marker = Path.of("/tmp/sigma-java-flaky");
        if (kind.equals("once") && !Files.exists(marker)) {
            Files.createFile(marker);
            fail("first run fails");
        }
    }

    @Test
    void broken() {
        fail("always fails");
    }

    @Test
    void first() {}

    @Test
    void second() {}

    @Nested
    class Inner {
        @Test
        void inside() {}
    }
}
"""

# add passes and mul fails; the edits below change one character of each, so the file keeps its size.
CALC = """package demo;

public final class Calc {
    public static int add(int a, int b) { return a + b; }

    public static int mul(int a, int b) { return a + b; }
}
"""
CALC_FLIPPED = CALC.replace("{ return a + b; }\n\n", "{ return a - b; }\n\n").replace("a + b; }\n}", "a * b; }\n}")
CALC_BROKEN = CALC_FLIPPED.replace("a - b", "a - c")  # compiles no more: `c` is no variable
TWICE = "package demo;\n\npublic final class Twice {\n    public static int of(int a) { return 2 * a; }\n}\n"
QUAD = (
    "package demo;\n\npublic final class Quad {\n    public static int of(int a) { return Twice.of(Twice.of(a)); }\n}\n"
)
GONE = "package demo;\n\npublic final class Gone {}\n"
CALC_TEST = """package demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class CalcTest {
    @Test
    void adds() { assertEquals(5, Calc.add(2, 3)); }

    @Test
    void multiplies() { assertEquals(6, Calc.mul(2, 3)); }

    @Test
    void quadruples() { assertEquals(8, Quad.of(2)); }

    @Test
    void goneIsGone() { assertThrows(ClassNotFoundException.class, () -> Class.forName("demo.Gone")); }
}
"""
DOOMED_TEST = (
    "package demo;\n\nimport org.junit.jupiter.api.Test;\n\nclass DoomedTest {\n    @Test\n    void doomed() {}\n}\n"
)


def _ids(framework: str, *names: str) -> list[str]:
    """Surefire names a Jupiter method `m` and an invocation `m{String}[2]`; the console launcher `m()` and
    `m(java.lang.String)[2]` (given here in the launcher's form)."""
    if framework == "junit-platform":
        return [f"demo.{name}" for name in names]
    return [f"demo.{name.replace('()', '').replace('(java.lang.String)', '{String}')}" for name in names]


# ---- re-run selection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["maven", "junit-platform"])
def test_java_reruns_select_exactly_the_cases_named_and_tell_a_flaky_case_from_a_broken_one(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str], framework: str
) -> None:
    cid = sandbox(_write(tmp_path, {**LAYOUTS[framework], f"{TEST}/FlakyTest.java": FLAKY_TEST}), "java")
    first, inside, gone = _ids(framework, "FlakyTest#first()", "FlakyTest$Inner#inside()", "FlakyTest#gone()")

    # Two ids (one in a @Nested class), one of a method that does not exist and hostile ones: exactly two run.
    hostile = ["demo.FlakyTest#second+first", "demo.*#second", "%regex[.*]#second", "--select-class=demo.FlakyTest"]
    two = executor.rerun_tests(cid, [first, inside, gone, *hostile], "java")
    assert _outcomes(two.cases) == {first: CaseOutcome.PASSED, inside: CaseOutcome.PASSED}, two.output
    assert two.success and two.framework == framework and (two.tests_passed, two.tests_failed) == (2, 0)

    # The failing cases run once more: the parametrised one's invocation passes then, broken fails again.
    result = executor.run_tests(cid, "java", rerun_failed=True)
    steady, once, broken = _ids(
        framework, "FlakyTest#flaky(java.lang.String)[1]", "FlakyTest#flaky(java.lang.String)[2]", "FlakyTest#broken()"
    )
    failing = {case.id for case in result.cases if case.outcome is CaseOutcome.FAILED}
    assert failing == {once, broken}, result.output
    assert (result.success, result.tests_passed, result.tests_failed) == (False, 4, 2)
    assert result.flaky == [once]
    # Every invocation of the selected method ran again (a method is Surefire's and the launcher's unit).
    again = _outcomes(result.rerun_cases)
    assert again == {steady: CaseOutcome.PASSED, once: CaseOutcome.PASSED, broken: CaseOutcome.FAILED}


# ---- no stale results ---------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["maven", "junit-platform"])
def test_java_tests_and_builds_see_same_size_edits_broken_code_and_deleted_files(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str], framework: str
) -> None:
    files = {
        **LAYOUTS[framework],
        f"{MAIN}/Calc.java": CALC,
        f"{MAIN}/Twice.java": TWICE,
        f"{MAIN}/Quad.java": QUAD,
        f"{MAIN}/Gone.java": GONE,
        f"{TEST}/CalcTest.java": CALC_TEST,
        f"{TEST}/DoomedTest.java": DOOMED_TEST,
    }
    cid = sandbox(_write(tmp_path, files), "java")
    adds, multiplies, quad, gone, doomed = _ids(
        framework,
        "CalcTest#adds()",
        "CalcTest#multiplies()",
        "CalcTest#quadruples()",
        "CalcTest#goneIsGone()",
        "DoomedTest#doomed()",
    )
    passed, failed = CaseOutcome.PASSED, CaseOutcome.FAILED

    # Given a run and a build: add passes, mul fails, Gone is still there.
    first = executor.run_tests(cid, "java")
    assert _outcomes(first.cases) == {adds: passed, multiplies: failed, quad: passed, gone: failed, doomed: passed}
    built = executor.run_build(cid, "java")  # the workspace the test run compiled: its outcome, not a second build
    assert built.success and "exactly what the test run" in built.output, built.output
    if framework == "maven":  # what `mvn` run by hand in the workspace leaves: classes of every source
        assert executor.execute_in_container(cid, "cp -R /tmp/sigma-maven/src/target /workspace/target").success

    # Same-size edits flip add and mul; a deleted test takes its case along, a deleted class is really gone.
    assert len(CALC_FLIPPED) == len(CALC) == len(CALC_BROKEN)
    edits = [
        {"filepath": f"{MAIN}/Calc.java", "content": CALC_FLIPPED},
        {"filepath": f"{TEST}/DoomedTest.java", "delete": True},
        {"filepath": f"{MAIN}/Gone.java", "delete": True},
    ]
    assert executor.apply_changes(cid, edits).success
    flipped = executor.run_tests(cid, "java")
    assert _outcomes(flipped.cases) == {adds: failed, multiplies: passed, quad: passed, gone: passed}, flipped.output

    # A same-size edit that breaks compilation, stamped with the old content's mtime, fails the next build
    # (maven-compiler alone, given the classes of the previous run, would call the stale class up to date).
    stamped = f"touch -r {MAIN}/Calc.java /tmp/stamp && printf '%s' '{CALC_BROKEN}' > {MAIN}/Calc.java"
    assert executor.execute_in_container(cid, f"{stamped} && touch -r /tmp/stamp {MAIN}/Calc.java").success
    broken = executor.run_build(cid, "java")
    assert not broken.success and "symbol:   variable c" in broken.output, broken.output
    assert "Calc.java:[4," in broken.output or "Calc.java:4:" in broken.output, broken.output

    # A deleted class that Quad needs fails the next build: no class of it is left to link against.
    fixed_but_no_twice = [
        {"filepath": f"{MAIN}/Calc.java", "content": CALC_FLIPPED},
        {"filepath": f"{MAIN}/Twice.java", "delete": True},
    ]
    assert executor.apply_changes(cid, fixed_but_no_twice).success
    missing = executor.run_build(cid, "java")
    assert not missing.success and "symbol:   variable Twice" in missing.output, missing.output
    assert "symbol:   variable c" not in missing.output


# ---- a warmed sandbox (the prepared pool's), and build after test -------------------------------------


def test_a_warmed_maven_sandbox_tests_and_builds_only_what_the_workspace_holds(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # Given a project pinning a Surefire Debian lacks, in a sandbox where the framework's warm command ran
    # (as a prepared sandbox's does, before any proposal): it resolved the project once, compiling it all.
    pinned = POM.replace("<version>2.22.3</version>", "<version>3.2.5</version>")
    files = {"pom.xml": pinned, f"{MAIN}/Calc.java": CALC, f"{MAIN}/Twice.java": TWICE, f"{MAIN}/Quad.java": QUAD}
    cid = sandbox(_write(tmp_path, {**files, f"{TEST}/CalcTest.java": CALC_TEST}), "java")
    warm = framework_by_name(resolve_language("java"), "maven").warm_command
    assert warm and executor.execute_in_container(cid, warm, timeout=300).success
    adds, multiplies, quad, gone = _ids(
        "maven", "CalcTest#adds()", "CalcTest#multiplies()", "CalcTest#quadruples()", "CalcTest#goneIsGone()"
    )

    # When a class Quad needs is deleted, nothing the warm run compiled stands in for it: tests and build fail.
    assert executor.apply_changes(cid, [{"filepath": f"{MAIN}/Twice.java", "delete": True}]).success
    errored = executor.run_tests(cid, "java")
    assert errored.success is False and errored.tests_errored == 1, errored.output
    assert "symbol:   variable Twice" in (errored.error or ""), errored.error
    assert "using Debian's packaged versions (as before)" in errored.output  # the warm run's patched poms
    missing = executor.run_build(cid, "java")
    assert not missing.success and "symbol:   variable Twice" in missing.output, missing.output

    # Restored, it is compiled again; the build then reports the test run's package of these very files.
    assert executor.apply_changes(cid, [{"filepath": f"{MAIN}/Twice.java", "content": TWICE}]).success
    tested = executor.run_tests(cid, "java")
    passed, failed = CaseOutcome.PASSED, CaseOutcome.FAILED
    assert _outcomes(tested.cases) == {adds: passed, multiplies: failed, quad: passed, gone: passed}, tested.output
    assert tested.coverage_percent is not None and tested.coverage_percent > 0
    built = executor.run_build(cid, "java")
    assert built.success and "exactly what the test run packaged" in built.output, built.output
    assert "target/verdicts-1.0.jar" in built.output

    # A same-size edit that breaks compilation, with the old mtime, is built for real (and fails), as is a
    # file that only appeared since the test run.
    stamped = f"touch -r {MAIN}/Calc.java /tmp/stamp && printf '%s' '{CALC_BROKEN}' > {MAIN}/Calc.java"
    assert executor.execute_in_container(cid, f"{stamped} && touch -r /tmp/stamp {MAIN}/Calc.java").success
    broken = executor.run_build(cid, "java")
    assert not broken.success and "symbol:   variable c" in broken.output, broken.output
    assert "exactly what the test run packaged" not in broken.output
    assert executor.apply_changes(cid, [{"filepath": f"{MAIN}/Calc.java", "content": CALC}]).success
    assert executor.run_build(cid, "java").success
    added = [{"filepath": f"{MAIN}/Extra.java", "content": "package demo;\nclass Extra { int x = ; }\n"}]
    assert executor.apply_changes(cid, added).success
    extra = executor.run_build(cid, "java")
    assert not extra.success and "Extra.java" in extra.output, extra.output
