"""Verdicts when no test ran: zero counts, no coverage, not a pass, and an error that names why (pure).

Each case is a run Debian bookworm's pytest 7.2 (or go test) really produced in a sandbox: its terminal
output, exit code and the report files it left.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_exec.languages import resolve_language
from sigma_exec.models import RawExec, TestResult
from sigma_exec.outcomes import execution_result, judge_tests, read_reports
from sigma_exec.pipeline import PipelineState, Proposal, ProposalStatus, decide
from sigma_exec.settings import Settings

DATA = Path(__file__).parents[1] / "data" / "reports"
FREEZEGUN = "ModuleNotFoundError: No module named 'freezegun'"
NONEXISTENT = "ModuleNotFoundError: No module named 'nonexistent_mod'"


def _judge(language: str, exit_code: int, output: str, files: dict[str, str]) -> TestResult:
    framework = resolve_language(language).frameworks[0]
    raw = RawExec(
        exit_code=exit_code, output=output, output_bytes=len(output), truncated=False, elapsed_s=1.0, deadline_hit=False
    )
    execution = execution_result(raw, timeout_s=300)
    report, coverage, source = read_reports({k: (DATA / v).read_bytes() for k, v in files.items()}, framework)
    return judge_tests(execution, report, coverage, framework=framework.name, command="t", source=source)


def _pytest(exit_code: int, output: str, **files: str) -> TestResult:
    names = {"junit": "junit.xml", "coverage": "coverage.json"}
    return _judge("python", exit_code, (DATA / output).read_text(), {names[k]: v for k, v in files.items()})


def _run(exit_code: int, output: str, **files: str) -> tuple[int, str, dict[str, str]]:
    """A captured pytest run, judged inside the test (not at collection)."""
    return exit_code, output, files


def _counts(result: TestResult) -> tuple[int | None, ...]:
    return (result.tests_passed, result.tests_failed, result.tests_skipped, result.tests_errored)


@pytest.mark.parametrize(
    ("run", "counts", "error"),
    [
        pytest.param(
            _run(4, "pytest-conftest-import-error.txt", coverage="coverage-py-conftest-import-error.json"),
            (0, 0, 0, 0),
            f"collection error: conftest.py: {FREEZEGUN}",
            id="conftest-import-error-leaves-no-junit",
        ),
        pytest.param(
            _run(4, "pytest-conftest-syntax-error.txt"),
            (0, 0, 0, 0),
            "collection error: conftest.py: SyntaxError: invalid syntax (line 2)",
            id="conftest-syntax-error",
        ),
        pytest.param(
            _run(
                2,
                "pytest-module-import-error.txt",
                junit="junit-pytest-module-import-error.xml",
                coverage="coverage-py-module-import-error.json",
            ),
            (0, 0, 0, 1),
            f"collection error: test_broken.py: {NONEXISTENT}",
            id="test-module-import-error",
        ),
        pytest.param(
            _run(2, "pytest-syntax-error.txt", junit="junit-pytest-syntax-error.xml"),
            (0, 0, 0, 1),
            "collection error: test_syntax.py: SyntaxError: invalid syntax (line 1)",
            id="test-module-syntax-error",
        ),
        pytest.param(
            _run(2, "pytest-subdir-conftest-error.txt", junit="junit-pytest-subdir-conftest-error.xml"),
            (0, 0, 0, 1),
            f"collection error: tests/unit/conftest.py: {FREEZEGUN}",
            id="conftest-below-the-root",
        ),
        pytest.param(
            _run(5, "pytest-no-tests.txt", junit="junit-pytest-no-tests.xml", coverage="coverage-py-no-tests.json"),
            (0, 0, 0, 0),
            "no tests were collected",
            id="no-tests-collected",
        ),
        pytest.param(
            _run(4, "pytest-usage-error.txt"),
            (0, 0, 0, 0),
            "pytest usage error: unrecognized arguments: --no-such-option",
            id="usage-error",
        ),
        pytest.param(
            _run(4, "pytest-file-not-found.txt", junit="junit-pytest-no-tests.xml"),
            (0, 0, 0, 0),
            "pytest usage error: file or directory not found: tests/missing.py",
            id="test-path-not-found",
        ),
    ],
)
def test_a_pytest_run_that_ran_no_test_has_zero_counts_no_coverage_and_names_the_cause(
    run: tuple[int, str, dict[str, str]], counts: tuple[int, ...], error: str
) -> None:
    exit_code, output, files = run
    result = _pytest(exit_code, output, **files)
    assert result.success is False
    assert _counts(result) == counts
    assert result.coverage_percent is None
    assert result.error == error


def test_the_junit_report_names_the_cause_when_the_output_does_not() -> None:
    result = _judge("python", 2, "", {"junit.xml": "junit-pytest-module-import-error.xml"})
    assert (result.success, _counts(result), result.coverage_percent) == (False, (0, 0, 0, 1), None)
    assert result.error == f"command exited with code 2; collection error: test_broken: {NONEXISTENT}"


def test_exit_code_4_with_no_report_and_no_recognisable_output_still_counts_zero_tests() -> None:
    result = _judge("python", 4, "", {"coverage.json": "coverage-py-conftest-import-error.json"})
    assert (result.success, _counts(result), result.coverage_percent) == (False, (0, 0, 0, 0), None)
    assert result.error == "no test ran: the runner stopped before its first test (exit code 4)"


def test_a_go_module_without_test_files_is_not_a_pass_and_has_no_coverage() -> None:
    output = "\texample.com/notests\t\tcoverage: 0.0% of statements\n"
    files = {"gotest.json": "gotest-no-test-files.jsonl", "cover.out": "gocover-no-test-files.out"}
    result = _judge("go", 0, output, files)
    assert (result.success, _counts(result), result.coverage_percent) == (False, (0, 0, 0, 0), None)
    assert result.error == "no test ran: the test report lists no test"


def test_a_go_build_failure_that_ran_no_test_has_no_coverage() -> None:
    files = {"gotest.json": "gotest-build-failed.jsonl", "cover.out": "gocover-calc.out"}
    result = _judge("go", 1, "", files)
    assert (result.success, _counts(result), result.coverage_percent) == (False, (0, 0, 0, 1), None)
    assert "undefined: Sub" in (result.error or "")


def test_coverage_is_kept_when_some_test_ran() -> None:
    files = {"junit.xml": "junit-pytest.xml", "coverage.json": "coverage-py.json"}
    result = _judge("python", 1, "", files)
    assert result.coverage_percent is not None
    assert _counts(result) == (4, 2, 2, 1)


def test_a_proposal_whose_tests_could_not_be_collected_is_rejected_saying_no_test_ran() -> None:
    result = _pytest(4, "pytest-conftest-import-error.txt", coverage="coverage-py-conftest-import-error.json")
    proposal = Proposal(proposal_id="p1", project_id=1, workspace="/w", language="python")
    state = PipelineState(proposal=proposal, node="n", tests=result.model_dump(mode="json"), build={"success": True})
    outcome = decide(state, Settings())
    assert outcome.status == ProposalStatus.REJECTED
    assert outcome.error == f"no test ran (0 errored): collection error: conftest.py: {FREEZEGUN}"
