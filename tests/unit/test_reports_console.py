"""What each runner printed about its run, read from captured output (pure, no Docker).

`tests/data/reports/console-*.txt` are real outputs of sigma-exec's runs (samples with failing, skipped,
xfail/xpass, parametrised, teardown-error and subtest cases); the honest report of each run agrees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_exec.reports.console import Match, NamedFailure, read_console, reports_failure

DATA = Path(__file__).resolve().parents[1] / "data" / "reports"


def _read(name: str) -> str:
    return (DATA / f"console-{name}.txt").read_text()


@pytest.mark.parametrize(
    ("framework", "sample", "failing", "passing"),
    [
        ("pytest", "pytest", 7, 5),  # 4 failed + 3 errors; 4 passed + 1 xpassed
        ("jest", "jest", 1, 3),
        ("jest", "vitest", 1, 1),
        ("jest", "mocha", 1, 1),
        ("gotest", "gotest", 1, None),
        ("rspec", "rspec", 1, 3),
        ("minitest", "minitest", 1, 3),
        ("maven", "maven", 1, 3),
        ("junit-platform", "junit-platform", 1, 3),
    ],
)
def test_each_runner_s_printed_summary_is_read(framework: str, sample: str, failing: int, passing: int | None) -> None:
    found = read_console(framework, _read(sample))

    assert found is not None
    assert (found.failing, found.passing) == (failing, passing)
    assert found.failing_line  # every sample has a failure, so a run exiting 0 with it is disputed


def test_pytest_s_short_summary_names_the_failing_node_ids() -> None:
    found = read_console("pytest", _read("pytest"))

    assert found is not None
    assert [f.text for f in found.named] == [
        "tests/test_calc.py::test_fail",
        "tests/test_calc.py::test_param[2-2]",
        "tests/test_calc.py::test_fail_and_teardown",
        "tests/test_calc.py::TestK::test_m",
        "tests/test_calc.py::test_fail_and_teardown",
        "tests/test_calc.py::test_pass_and_teardown",
        "tests/test_calc.py::test_setup_error",
    ]
    assert {f.scope for f in found.named} == {"tests/test_calc.py::"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("FAILED tests/t.py::test_a - assert 1 == 2", NamedFailure("tests/t.py::test_a", Match.EXACT, "tests/t.py::")),
        ("FAILED tests/t.py::test_a", NamedFailure("tests/t.py::test_a", Match.EXACT, "tests/t.py::")),
        # a parameter id holding " - " is cut there: the brackets do not close, so it is a prefix
        ("FAILED t.py::test_p[x - y] - assert", NamedFailure("t.py::test_p[x", Match.PREFIX, "t.py::")),
        ("ERROR t.py::TestC::test_b - RuntimeError: boom", NamedFailure("t.py::TestC::test_b", Match.EXACT, "t.py::")),
    ],
)
def test_a_pytest_failure_line_names_its_node_id(line: str, expected: NamedFailure) -> None:
    found = read_console("pytest", line)
    assert found is not None and found.named == [expected]


@pytest.mark.parametrize(
    "line",
    [
        "ERROR tests/test_broken.py",  # a collection error names a file, not a case
        "ERROR: usage: pytest [options]",
        "tests/t.py::test_a FAILED  [ 50%]",  # -v progress, not the short summary
        "    FAILED tests/t.py::test_a",
    ],
)
def test_lines_that_name_no_failing_case_are_not_read_as_such(line: str) -> None:
    found = read_console("pytest", line)
    assert found is None or not found.named


@pytest.mark.parametrize(
    ("line", "failing", "passing"),
    [
        ("1 failed, 2 passed in 0.12s", 1, 2),
        ("==== 1 failed, 2 passed, 3 warnings in 1.20s (0:00:01) ====", 1, 2),
        ("2 errors in 0.05s", 2, 0),
        ("3 passed, 1 xpassed, 2 subtests passed in 0.1s", 0, 6),
        ("no tests ran in 0.01s", 0, 0),
        ("5 deselected in 0.01s", 0, 0),
    ],
)
def test_pytest_s_final_line_in_its_shapes(line: str, failing: int, passing: int) -> None:
    found = read_console("pytest", line)
    assert found is not None and (found.failing, found.passing) == (failing, passing)


@pytest.mark.parametrize(
    "line",
    ["Collected 3 items in 0.5s", "3 apples, 2 pears in 5s", "took 1 failed attempt", "1 failed, 2 passed"],
)
def test_text_that_only_looks_like_a_pytest_summary_is_not_one(line: str) -> None:
    assert read_console("pytest", line) is None


def test_pytest_s_last_summary_counts_and_any_summary_with_failures_is_remembered() -> None:
    # A nested run's summary (in a failing test's captured output) comes before pytest's own.
    output = "3 failed in 0.1s\n1 failed, 5 passed in 0.9s\n"
    found = read_console("pytest", output)
    assert found is not None
    assert (found.failing, found.passing, found.line) == (1, 5, "1 failed, 5 passed in 0.9s")
    # An exit hook can print a passing line after the real one: the failing one is still remembered.
    found = read_console("pytest", "1 failed, 1 passed in 0.1s\n2 passed in 0.1s\n")
    assert found is not None and found.failing == 0 and found.failing_line == "1 failed, 1 passed in 0.1s"


def test_vitest_re_runs_print_one_summary_per_group_and_the_passes_add_up() -> None:
    output = "      Tests  1 failed | 2 passed (3)\n      Tests  0 failed | 4 passed (4)\n"
    found = read_console("jest", output)
    assert found is not None and (found.failing, found.passing) == (1, 6)


def test_go_s_failing_subtests_are_read_at_their_own_depth_only() -> None:
    output = (
        "--- FAIL: TestSign (0.00s)\n"
        "    --- FAIL: TestSign/negative (0.00s)\n"
        "        --- FAIL: TestInner (0.00s)\n"  # a log line of a test (deeper than its name says)
        "    calc_test.go:9: --- FAIL: TestLogged\n"
        "--- FAIL: TestSign (0.00s)\n"
    )
    found = read_console("gotest", output)
    assert found is not None
    assert [f.text for f in found.named] == ["::TestSign", "::TestSign/negative"]
    assert all(f.match is Match.SUFFIX for f in found.named)
    assert found.failing == 2


def test_minitest_s_failure_blocks_name_their_cases() -> None:
    output = (
        "  1) Failure:\nCalcTest#test_x [/workspace/test/calc_test.rb:19]:\nExpected: 5\n\n"
        "  2) Error:\nCalcTest#test_y:\nRuntimeError: boom\n\n"
        "3 runs, 3 assertions, 1 failures, 1 errors, 0 skips\n"
    )
    found = read_console("minitest", output)
    assert found is not None
    assert [(f.text, f.scope) for f in found.named] == [
        ("CalcTest#test_x", "CalcTest#"),
        ("CalcTest#test_y", "CalcTest#"),
    ]
    assert (found.failing, found.passing) == (2, 1)


def test_maven_sums_its_module_totals_and_ignores_the_per_class_lines() -> None:
    output = (
        "[ERROR] Tests run: 3, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.1 s <<< FAILURE! - in a.ATest\n"
        "[ERROR] Tests run: 3, Failures: 1, Errors: 0, Skipped: 0\n"
        "[INFO] Tests run: 2, Failures: 0, Errors: 0, Skipped: 1, Flakes: 1\n"
    )
    found = read_console("maven", output)
    assert found is not None and (found.failing, found.passing) == (1, 3)


@pytest.mark.parametrize("framework", [None, "custom", ""])
def test_an_unknown_framework_has_no_summary(framework: str | None) -> None:
    assert read_console(framework, _read("pytest")) is None


@pytest.mark.parametrize(
    ("framework", "line", "kept"),
    [
        ("pytest", "1 failed, 2 passed in 0.1s", True),
        ("pytest", "FAILED tests/t.py::test_a - boom", True),
        ("pytest", "3 passed in 0.1s", False),
        ("jest", "Tests:       1 failed, 2 total", True),
        ("gotest", "--- FAIL: TestX (0.00s)", True),
        ("rspec", "2 examples, 0 failures", False),
        ("minitest", "2 runs, 2 assertions, 0 failures, 1 errors, 0 skips", True),
        ("maven", "[ERROR] Tests run: 5, Failures: 1, Errors: 0, Skipped: 1", True),
        ("junit-platform", "[         1 tests failed          ]", True),
        ("pytest", "x" * 5000 + " 1 failed in 1s", False),
    ],
)
def test_the_lines_an_output_cap_keeps_are_those_that_report_failures(framework: str, line: str, kept: bool) -> None:
    assert reports_failure(framework, line) is kept
