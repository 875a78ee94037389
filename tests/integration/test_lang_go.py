"""Go 1.23 on the real engine: a sample module tested, fixed, built and broken through `DockerExecutor`."""

from __future__ import annotations

import json
from pathlib import Path

from sigma_exec import DockerExecutor
from sigma_exec.models import CaseOutcome, TestResult
from tests.conftest import ROOT, labelled_containers

SAMPLE = ROOT / "tests" / "samples" / "go_calc"
CHANGES = json.loads((ROOT / "tests" / "samples" / "go_calc_changes.json").read_text())
BROKEN = [{"filepath": "calc.go", "content": "package calc\n\nfunc Add(a, b int) int {\n\treturn a +\n}\n"}]


def _counts(result: TestResult) -> tuple[int | None, ...]:
    return (result.tests_passed, result.tests_failed, result.tests_skipped, result.tests_errored)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_a_go_module_is_tested_fixed_built_and_broken_through_the_executor(
    executor: DockerExecutor, project_id: str
) -> None:
    host_files = _files(SAMPLE)
    ok, cid, error = executor.create_project_container(project_id, str(SAMPLE), "golang")
    assert ok and cid, error

    # Given the sample: TestAdd, TestSign and its two subtests, TestReverse pass; TestDivide fails; one skip.
    before = executor.run_tests(cid, "go")
    assert _counts(before) == (5, 1, 1, 0), before.output
    assert before.success is False and before.framework == "gotest"
    assert before.report_source == "gotest:gotest.json"
    assert before.coverage_percent is not None and 0 < before.coverage_percent < 100
    divide = next(case for case in before.cases if case.name == "TestDivide")
    assert divide.outcome == CaseOutcome.FAILED and "want 4" in (divide.message or "")
    assert "--- FAIL: TestDivide" in before.output  # readable output, not the raw JSON stream

    # When the fix and a new test are applied, everything passes (the skip stays a skip).
    assert executor.apply_changes(cid, CHANGES).success
    after = executor.run_tests(cid)
    assert _counts(after) == (7, 0, 1, 0), after.output
    assert after.success is True and after.error is None
    assert after.coverage_percent is not None and 0 < after.coverage_percent <= 100

    build = executor.run_build(cid, "golang")
    assert build.success, build.output

    # A syntax error fails the build and makes the test run errored, with the compiler's message.
    assert executor.apply_changes(cid, BROKEN).success
    broken_build = executor.run_build(cid, "go")
    assert broken_build.success is False and "calc.go:5" in broken_build.output
    errored = executor.run_tests(cid, "go")
    assert errored.success is False
    assert _counts(errored) == (1, 0, 0, 1), errored.output  # strutil still passes; calc did not build
    assert errored.error is not None and "calc.go:5" in errored.error

    assert executor.stop_container(cid) is True
    assert labelled_containers(executor, project_id) == []
    assert _files(SAMPLE) == host_files


def test_vendored_modules_are_used_offline_and_a_missing_module_is_a_clear_error(
    tmp_path: Path, executor: DockerExecutor, sandbox
) -> None:
    (tmp_path / "go.mod").write_text("module example.com/app\n\ngo 1.23\n\nrequire example.com/greet v1.0.0\n")
    (tmp_path / "app.go").write_text(
        'package app\n\nimport "example.com/greet"\n\nfunc Hello() string { return greet.Hi("go") }\n'
    )
    (tmp_path / "app_test.go").write_text(
        'package app\n\nimport "testing"\n\nfunc TestHello(t *testing.T) {\n'
        '\tif Hello() != "hi go" {\n\t\tt.Fatal(Hello())\n\t}\n}\n'
    )
    vendored = tmp_path / "vendor" / "example.com" / "greet"
    vendored.mkdir(parents=True)
    (vendored / "greet.go").write_text('package greet\n\nfunc Hi(name string) string { return "hi " + name }\n')
    (tmp_path / "vendor" / "modules.txt").write_text("# example.com/greet v1.0.0\n## explicit\nexample.com/greet\n")
    cid = sandbox(tmp_path, "go")

    vendored_run = executor.run_tests(cid, "go")
    assert _counts(vendored_run) == (1, 0, 0, 0), vendored_run.output
    assert vendored_run.success and executor.run_build(cid, "go").success

    # Without vendor/ the module would have to be downloaded: an errored run naming it, at once.
    assert executor.execute_in_container(cid, "rm -rf vendor").success
    offline = executor.run_tests(cid, "go")
    assert offline.success is False and _counts(offline) == (0, 0, 0, 1), offline.output
    assert offline.error is not None and "example.com/greet" in offline.error
    assert offline.execution_time < 30
