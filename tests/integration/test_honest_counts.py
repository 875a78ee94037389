"""A run in which no test ran says so honestly: zero counts, no coverage, not a pass, the cause named.

Given a Python project whose tests pass, each proposal below breaks it so that pytest runs no test;
the executor must neither report `None` counts with a bare exit code nor a coverage figure measured
over the imports of the test files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor
from sigma_exec.models import TestResult

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"
IMPORTS_A_MISSING_MODULE = "import nonexistent_mod  # noqa: F401\n\n\ndef test_x():\n    pass\n"


@pytest.fixture
def passing_project(tmp_path: Path, sandbox: Callable[..., str], executor: DockerExecutor) -> str:
    (tmp_path / "calc.py").write_text(CALC)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text(TEST_CALC)
    cid = sandbox(tmp_path, "python")
    baseline = executor.run_tests(cid, "python")
    assert (baseline.success, baseline.tests_passed, baseline.tests_failed) == (True, 1, 0), baseline.output
    assert baseline.coverage_percent is not None
    return cid


def _counts(result: TestResult) -> tuple[int | None, ...]:
    return (result.tests_passed, result.tests_failed, result.tests_skipped, result.tests_errored)


@pytest.mark.parametrize(
    ("change", "exit_code", "counts", "error"),
    [
        pytest.param(
            {"filepath": "conftest.py", "content": "import freezegun  # noqa: F401\n"},
            4,
            (0, 0, 0, 0),
            "collection error: conftest.py: ModuleNotFoundError: No module named 'freezegun'",
            id="a-conftest-that-fails-to-import-names-the-missing-module",
        ),
        pytest.param(
            {"filepath": "tests/test_broken.py", "content": "def test_bad(:\n    pass\n"},
            2,
            (0, 0, 0, 1),
            "collection error: tests/test_broken.py: SyntaxError: invalid syntax (line 1)",
            id="a-test-module-with-a-syntax-error-names-the-file",
        ),
        pytest.param(
            {"filepath": "tests/test_broken.py", "content": IMPORTS_A_MISSING_MODULE},
            2,
            (0, 0, 0, 1),
            "collection error: tests/test_broken.py: ModuleNotFoundError: No module named 'nonexistent_mod'",
            id="a-test-module-importing-a-missing-module-names-the-module",
        ),
        pytest.param(
            {"filepath": "tests/test_calc.py", "delete": True},
            5,
            (0, 0, 0, 0),
            "no tests were collected",
            id="a-proposal-that-deletes-every-test",
        ),
    ],
)
def test_a_proposal_after_which_no_test_runs_leaves_zero_counts_no_coverage_and_names_the_cause(
    passing_project: str, executor: DockerExecutor, change: dict, exit_code: int, counts: tuple[int, ...], error: str
) -> None:
    applied = executor.apply_changes(passing_project, [change])
    assert applied.success, applied.error

    result = executor.run_tests(passing_project, "python")

    assert result.success is False
    assert result.exit_code == exit_code
    assert _counts(result) == counts
    assert result.coverage_percent is None
    assert result.error == error
