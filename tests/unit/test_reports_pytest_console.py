"""Why pytest ran no test, read from the terminal output Debian bookworm's pytest 7.2 really prints."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sigma_exec.reports import diagnose_no_tests
from sigma_exec.reports.pytest_console import EarlyStop, no_test_reason

DATA = Path(__file__).parents[1] / "data" / "reports"
FREEZEGUN = "ModuleNotFoundError: No module named 'freezegun'"
NONEXISTENT = "ModuleNotFoundError: No module named 'nonexistent_mod'"


def _output(name: str) -> str:
    return (DATA / name).read_text()


@pytest.mark.parametrize(
    ("fixture", "exit_code", "expected"),
    [
        ("pytest-conftest-import-error.txt", 4, EarlyStop(f"collection error: conftest.py: {FREEZEGUN}")),
        (
            "pytest-conftest-syntax-error.txt",
            4,
            EarlyStop("collection error: conftest.py: SyntaxError: invalid syntax (line 2)"),
        ),
        ("pytest-conftest-runtime-error.txt", 4, EarlyStop("collection error: conftest.py: RuntimeError: bad config")),
        ("pytest-module-import-error.txt", 2, EarlyStop(f"collection error: test_broken.py: {NONEXISTENT}", 1)),
        (
            "pytest-syntax-error.txt",
            2,
            EarlyStop("collection error: test_syntax.py: SyntaxError: invalid syntax (line 1)", 1),
        ),
        ("pytest-subdir-conftest-error.txt", 2, EarlyStop(f"collection error: tests/unit/conftest.py: {FREEZEGUN}", 1)),
        (
            "pytest-two-collection-errors.txt",
            2,
            EarlyStop(
                f"2 collection errors: test_a_import.py: {NONEXISTENT}; "
                "test_b_syntax.py: SyntaxError: invalid syntax (line 1)",
                2,
            ),
        ),
        ("pytest-no-tests.txt", 5, EarlyStop("no tests were collected")),
        ("pytest-usage-error.txt", 4, EarlyStop("pytest usage error: unrecognized arguments: --no-such-option")),
        (
            "pytest-file-not-found.txt",
            4,
            EarlyStop("pytest usage error: file or directory not found: tests/missing.py"),
        ),
    ],
)
def test_a_run_that_stopped_before_its_first_test_is_named_with_its_cause(
    fixture: str, exit_code: int, expected: EarlyStop
) -> None:
    assert no_test_reason(exit_code, _output(fixture)) == expected


@pytest.mark.parametrize("exit_code", [0, 1, 3, None])
def test_exit_codes_after_which_tests_may_have_run_say_nothing(exit_code: int | None) -> None:
    assert no_test_reason(exit_code, _output("pytest-module-import-error.txt")) is None


def test_an_interruption_that_shows_no_collection_error_may_have_run_tests() -> None:
    assert no_test_reason(2, "!!!!!! _pytest.outcomes.Exit: stop here !!!!!!\n3 passed in 0.1s\n") is None


def test_exit_code_4_with_an_unrecognised_output_still_says_no_test_ran_without_a_cause() -> None:
    assert no_test_reason(4, "something else entirely\n") == EarlyStop(None)


def test_only_pytest_has_a_no_test_diagnosis() -> None:
    output = _output("pytest-conftest-import-error.txt")
    assert diagnose_no_tests("pytest", 4, output) is not None
    assert diagnose_no_tests("jest", 4, output) is None
    assert diagnose_no_tests(None, 4, output) is None


def test_a_huge_exception_line_is_cut_to_a_bounded_reason() -> None:
    output = "ImportError while loading conftest '/workspace/conftest.py'.\nE   RuntimeError: " + "x" * 2_000_000
    reason = no_test_reason(4, output)
    assert reason is not None and reason.reason is not None
    assert reason.reason.startswith("collection error: conftest.py: RuntimeError: xxx")
    assert len(reason.reason) <= 1200


def test_many_collection_errors_are_counted_and_the_first_three_named() -> None:
    block = "___ ERROR collecting test_{0}.py ___\nE   ImportError: no {0}\n"
    output = "".join(block.format(i) for i in range(50))
    stop = no_test_reason(2, output)
    assert stop is not None and stop.collection_errors == 50
    assert stop.reason == (
        "50 collection errors: test_0.py: ImportError: no 0; test_1.py: ImportError: no 1; "
        "test_2.py: ImportError: no 2; and 47 more"
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "E   " + "a." * 400_000 + ":",  # a dotted name as long as the scan
        "E   " * 300_000,
        ("_" * 50 + " ERROR collecting " + "_" * 50 + "\n") * 8_000,
        ('E     File "' + '", line ' * 1000 + "\n") * 100,
        "ImportError while loading conftest '" + "'" * 900_000,
        ("x: in <module>\n" * 60_000) + "\n" * 100_000,
    ],
)
def test_hostile_output_is_read_in_linear_time(hostile: str) -> None:
    text = "ImportError while loading conftest '/workspace/conftest.py'.\n" + hostile
    started = time.monotonic()
    stop = no_test_reason(4, text)
    assert time.monotonic() - started < 2.0
    assert stop is not None and (stop.reason is None or len(stop.reason) <= 1200)
