"""Python's test step on the real engine: `coverage run -m pytest` and `coverage json` in one process
(pytest-coverage.py), reporting exactly what the two commands did one after the other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sigma_exec import DockerExecutor
from sigma_exec.languages import resolve_language
from tests.integration.verdict_helpers import outcomes as _outcomes
from tests.integration.verdict_helpers import write_files as _write

# Four statements; the tests run three of them: 75 % (the test files are measured too: --source=.).
SHAPES = "def area(w, h):\n    return w * h\n\n\ndef unused():\n    return 0\n"
TESTS = """import os


def test_area():
    from shapes import area
    assert area(2, 3) == 6


def test_wanders_off():
    os.chdir("/tmp")  # left there: the JSON report is still written from the project's directory


def test_fails():
    assert 1 == 2
"""
# The two commands as they ran before, one process each.
TWO_PROCESSES = (
    "python3 -m coverage run --source=. -m pytest -q; rc=$?; "
    'python3 -m coverage json -q -o "$SIGMA_REPORTS_DIR/coverage.json" >/dev/null 2>&1; exit $rc'
)


def test_one_process_reports_the_counts_coverage_and_exit_code_of_coverage_run_then_coverage_json(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    assert "pytest-coverage.py" in resolve_language("python").frameworks[0].test_command
    cid = sandbox(_write(tmp_path, {"shapes.py": SHAPES, "tests/test_shapes.py": TESTS}), "python")

    result = executor.run_tests(cid, "python")
    assert _outcomes(result) == {
        "tests/test_shapes.py::test_area": "passed",
        "tests/test_shapes.py::test_wanders_off": "passed",
        "tests/test_shapes.py::test_fails": "failed",
    }, result.output
    assert result.success is False and result.report_disputed is None
    assert "1 failed, 2 passed" in result.output and "Wrote JSON report" not in result.output

    before = executor.run_tests(cid, "python", test_command=TWO_PROCESSES)
    assert before.coverage_percent is not None
    assert result.coverage_percent == before.coverage_percent, (result.coverage_percent, before.coverage_percent)
    assert (result.tests_passed, result.tests_failed) == (before.tests_passed, before.tests_failed)

    fixed = [{"filepath": "tests/test_shapes.py", "content": TESTS.replace("1 == 2", "2 == 2")}]
    assert executor.apply_changes(cid, fixed).success
    passed = executor.run_tests(cid, "python")
    assert passed.success and passed.error is None and passed.tests_passed == 3, passed.output
    assert passed.coverage_percent == before.coverage_percent  # same lines run, the assert line included


def test_a_run_that_ends_the_process_early_gives_no_coverage_figure_but_the_printed_counts(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # os._exit in a test ends the process before coverage.py saves anything: no report, as with two processes.
    exits = "import os\n\n\ndef test_ok():\n    pass\n\n\ndef test_exit():\n    os._exit(0)\n"
    cid = sandbox(_write(tmp_path, {"tests/test_exit.py": exits}), "python")
    result = executor.run_tests(cid, "python")
    assert result.success is False and result.coverage_percent is None, result.output
