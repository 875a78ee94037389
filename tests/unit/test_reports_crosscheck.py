"""The report against what the runner printed and its exit code: forged reports are disputed, honest ones never.

Pure, no Docker: the captured outputs of real runs (`tests/data/reports/console-*.txt`) with the reports
those runs wrote (as parsed counts and cases) and with forged ones, as an exit hook would leave them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_exec.baselines import BaselineRecord
from sigma_exec.languages import framework_by_name, resolve_language
from sigma_exec.models import CaseOutcome, ExecutionResult, ParsedReport, TestCase, TestResult
from sigma_exec.outcomes import judge_tests, read_reports
from sigma_exec.output import KEPT_LINES, BoundedOutput
from sigma_exec.reports.console import read_console, reports_failure
from sigma_exec.reports.crosscheck import DISAGREE, disagreement
from sigma_exec.reruns import with_rerun
from sigma_exec.settings import VerdictPolicy
from sigma_exec.verdicts import ChangedPaths, VerdictRules, grade_tests, transitions

DATA = Path(__file__).resolve().parents[1] / "data" / "reports"
P, F, S, E = CaseOutcome.PASSED, CaseOutcome.FAILED, CaseOutcome.SKIPPED, CaseOutcome.ERRORED


def _report(cases: list[tuple[str, CaseOutcome]], framework: str = "junit") -> ParsedReport:
    counts = {o: sum(1 for _, outcome in cases if outcome is o) for o in CaseOutcome}
    return ParsedReport(
        framework=framework,
        tests_passed=counts[P],
        tests_failed=counts[F],
        tests_skipped=counts[S],
        tests_errored=counts[E],
        cases=[TestCase(name=i, id=i, outcome=o) for i, o in cases],
    )


def _counts(passed: int, failed: int, skipped: int = 0, errored: int = 0) -> ParsedReport:
    return ParsedReport(
        framework="x", tests_passed=passed, tests_failed=failed, tests_skipped=skipped, tests_errored=errored
    )


T = "tests/test_calc.py::"
PYTEST_HONEST = _report(
    [
        (T + "test_ok", P),
        (T + "test_fail", F),
        (T + "test_param[1-2]", P),
        (T + "test_param[2-2]", F),
        (T + "test_param[x - y-z]", P),
        (T + "test_skip", S),
        (T + "test_xfail", S),
        (T + "test_xpass", P),
        (T + "test_fail_and_teardown", F),
        (T + "test_fail_and_teardown", E),
        (T + "test_pass_and_teardown", E),
        (T + "test_setup_error", E),
        (T + "TestK::test_m", F),
    ]
)
# What each sample's honest report held (the counts the executor read from it, see the console tests).
HONEST = {
    "pytest": ("pytest", PYTEST_HONEST),
    "jest": ("jest", _counts(3, 1, 2, 0)),
    "vitest": ("jest", _counts(1, 1, 1)),
    "mocha": ("jest", _counts(1, 1, 1, 0)),
    "gotest": (
        "gotest",
        _report(
            [
                ("example.com/calc::TestAdd", P),
                ("example.com/calc::TestDivide", F),
                ("example.com/calc::TestSign/positive", P),
                ("example.com/calc::TestSign/negative", P),
                ("example.com/calc::TestSign", P),
                ("example.com/calc::TestNeedsNetwork", S),
                ("example.com/calc/strutil::TestReverse", P),
            ]
        ),
    ),
    "rspec": ("rspec", _counts(3, 1, 2, 0)),
    "minitest": ("minitest", _report([("CalcTest#test_divides", P), ("CalcTest#test_refuses_to_divide_by_zero", F)])),
    "maven": ("maven", _counts(3, 1, 1, 0)),
    "junit-platform": ("junit-platform", _counts(3, 1, 2, 0)),
}


def _output(sample: str) -> str:
    return (DATA / f"console-{sample}.txt").read_text()


@pytest.mark.parametrize("sample", sorted(HONEST))
def test_an_honest_report_agrees_with_its_runner_s_output(sample: str) -> None:
    framework, report = HONEST[sample]
    assert disagreement(read_console(framework, _output(sample)), report, 1) is None


@pytest.mark.parametrize("sample", sorted(HONEST))
def test_a_report_forged_as_passing_with_exit_code_0_is_disputed(sample: str) -> None:
    framework, report = HONEST[sample]
    forged = _counts((report.tests_passed or 0) + (report.tests_failed or 0), 0)

    found = disagreement(read_console(framework, _output(sample)), forged, 0)

    assert found is not None and found.startswith(DISAGREE)
    assert "exited with code 0 after printing failures" in found
    assert "failed or errored" in found and "the report 0" in found


@pytest.mark.parametrize("sample", sorted(HONEST))
def test_a_deleted_report_with_exit_code_0_is_disputed_by_the_printed_failures(sample: str) -> None:
    framework, _ = HONEST[sample]
    found = disagreement(read_console(framework, _output(sample)), None, 0)
    assert found is not None and "exited with code 0 after printing failures" in found


def test_a_failing_case_shown_passing_in_the_report_is_named() -> None:
    # Counts kept consistent (another test marked failing instead), exit code left at 1: the ids still tell.
    swapped = [(i, P if i == T + "test_fail" else (F if i == T + "test_ok" else o)) for i, o in _cases(PYTEST_HONEST)]
    found = disagreement(read_console("pytest", _output("pytest")), _report(swapped), 1)
    assert found == f"{DISAGREE}: printed as failing, not failing in the report: {T}test_fail (passed)"


def test_a_failing_case_missing_from_the_report_is_named_when_its_file_is_there() -> None:
    fewer = [(i, o) for i, o in _cases(PYTEST_HONEST) if i != T + "TestK::test_m"] + [(T + "extra", F)]
    found = disagreement(read_console("pytest", _output("pytest")), _report(fewer), 1)
    assert found == f"{DISAGREE}: printed as failing, missing from the report: {T}TestK::test_m"


def test_a_printed_failure_of_a_file_the_report_never_mentions_is_no_evidence() -> None:
    # e.g. a nested pytest run's output shown with a failing test; the counts of the last summary agree.
    output = "FAILED test_inner.py::test_x - boom\n1 failed in 0.1s\n1 failed in 0.2s\n"
    assert disagreement(read_console("pytest", output), _report([(T + "test_a", F)]), 1) is None


def test_a_cut_parametrised_id_matches_the_case_it_starts() -> None:
    output = "FAILED t.py::test_p[a - b] - assert\n1 failed in 0.1s\n"
    assert disagreement(read_console("pytest", output), _report([("t.py::test_p[a - b]", F)]), 1) is None
    found = disagreement(read_console("pytest", output), _report([("t.py::test_p[a - b]", P), ("t.py::x", F)]), 1)
    assert found is not None and "t.py::test_p[a (passed)" in found


def test_a_go_failure_is_found_in_whichever_package_ran_it() -> None:
    output = "--- FAIL: TestDivide (0.00s)\nFAIL\texample.com/calc\t0.01s\n"
    assert disagreement(read_console("gotest", output), _report([("example.com/calc::TestDivide", F)]), 1) is None
    found = disagreement(read_console("gotest", output), _report([("example.com/calc::TestDivide", P)]), 1)
    assert found is not None and "TestDivide (passed)" in found


def test_more_passes_than_printed_is_disputed() -> None:
    found = disagreement(read_console("rspec", "3 examples, 0 failures\n"), _counts(9, 0), 0)
    assert found == f"{DISAGREE}: the report has 9 passed, the output at most 3"


def test_no_printed_summary_means_no_dispute() -> None:
    assert read_console("pytest", "something else entirely\n") is None
    assert disagreement(None, _counts(5, 0), 0) is None


def test_a_runner_that_printed_no_failure_is_not_disputed_for_exit_code_0() -> None:
    assert disagreement(read_console("pytest", "3 passed in 0.1s\n"), _counts(3, 0), 0) is None


def _cases(report: ParsedReport) -> list[tuple[str, CaseOutcome]]:
    return [(case.id, case.outcome) for case in report.cases]


# ---- judge_tests, re-runs and grading ----
def _exec(code: int, output: str) -> ExecutionResult:
    return ExecutionResult(success=code == 0, exit_code=code, output=output, error=None if code == 0 else "x")


FORGED = _report([(T + "test_add", P), (T + "test_sub", P)])
PRINTED = f"FAILED {T}test_sub - assert 8 == 2\n1 failed, 1 passed in 0.05s\n"


def test_a_forged_report_with_exit_code_0_is_no_pass_and_says_why() -> None:
    result = judge_tests(_exec(0, PRINTED), FORGED, 90.0, framework="pytest", command="x", source="junit:junit.xml")
    assert result.success is False
    assert result.report_disputed and result.error == result.report_disputed
    assert "1 failed" in result.error and "the report 0" in result.error
    assert (result.tests_passed, result.tests_failed) == (2, 0)  # what the report says, shown as it is


def test_a_missing_report_is_no_pass_when_the_runner_always_writes_one() -> None:
    result = judge_tests(_exec(0, ""), None, None, framework="pytest", command="x", source=None, report_required=True)
    assert result.success is False and result.report_disputed
    assert result.error.startswith("the test report is missing (possible tampering)")
    # A custom command may write none: then the exit code decides, as before.
    assert judge_tests(_exec(0, ""), None, None, framework="pytest", command="x", source=None).success is True


def test_an_honest_run_is_untouched() -> None:
    honest = _report([(T + "test_add", P), (T + "test_sub", P)])
    result = judge_tests(
        _exec(0, "2 passed in 0.1s\n"), honest, None, framework="pytest", command="x", source="j", report_required=True
    )
    assert result.success is True and result.report_disputed is None and result.error is None


def _result(**kw: object) -> TestResult:
    base: dict[str, object] = {"success": False, "tests_passed": 1, "tests_failed": 1, "exit_code": 1}
    return TestResult(**(base | kw))


def test_a_disputed_re_run_makes_nothing_flaky_and_disputes_the_run() -> None:
    first = _result(cases=[TestCase(name="a", id="a", outcome=F)])
    forged_again = _result(
        success=False, cases=[TestCase(name="a", id="a", outcome=P)], report_disputed=f"{DISAGREE}: x"
    )
    honest_again = _result(cases=[TestCase(name="a", id="a", outcome=P)])

    assert with_rerun(first, honest_again).flaky == ["a"]
    merged = with_rerun(first, forged_again)
    assert merged.flaky == [] and merged.success is False
    assert merged.report_disputed == f"in the re-run of the failing cases: {DISAGREE}: x"


def test_a_disputed_run_is_rejected_under_every_policy() -> None:
    baseline = BaselineRecord.from_result(
        "k", TestResult(success=True, tests_passed=1, cases=[TestCase(name="a", id="a", outcome=P)])
    )
    after = TestResult(
        success=False,
        tests_passed=1,
        exit_code=0,
        cases=[TestCase(name="a", id="a", outcome=P)],
        report_disputed=f"{DISAGREE}: the runner exited with code 0 after printing failures",
    )
    found = transitions(baseline, after, ChangedPaths())
    for policy in VerdictPolicy:
        reasons = grade_tests(after, baseline, found, VerdictRules(policy=policy), timeout_s=60)
        assert reasons == [f"the test report cannot be trusted: {after.report_disputed}"]


# ---- the output cap keeps a runner's failure lines ----
def test_failure_lines_a_flood_would_cut_are_kept_in_order() -> None:
    out = BoundedOutput(4096, lambda line: reports_failure("pytest", line))
    out.write(b"y" * 3000 + b"\n")
    out.write(f"FAILED {T}test_sub - boom\n".encode())
    out.write(b"noise\n" * 10)
    out.write(b"1 failed, 1 passed in 0.05s\n")
    out.write(b"3 passed in 0.1s\n")  # no failure: not kept
    out.write(b"x" * 100_000 + b"\n")

    text = out.text()

    assert out.truncated and f"FAILED {T}test_sub" in text
    kept = text[text.index("lines kept from the cut part") :]
    assert kept.index("FAILED") < kept.index("1 failed, 1 passed") and "3 passed" not in kept
    found = read_console("pytest", text)
    assert found is not None and found.failing_line == "1 failed, 1 passed in 0.05s"


def test_lines_split_across_writes_are_whole_and_only_the_first_few_are_kept() -> None:
    out = BoundedOutput(1024, lambda line: reports_failure("gotest", line))
    out.write(b"z" * 600)
    for index in range(KEPT_LINES + 10):
        line = f"\n--- FAIL: TestN{index} (0.00s)".encode()
        out.write(line[:7])
        out.write(line[7:])
    out.write(b"\n" + b"z" * 5000)

    text = out.text()

    assert "--- FAIL: TestN0 (0.00s)" in text
    assert text.count("--- FAIL: ") == KEPT_LINES


def test_without_a_cut_nothing_is_added() -> None:
    out = BoundedOutput(1 << 20, lambda line: True)
    out.write(b"FAILED x::y\n1 failed in 1s\n")
    assert out.text() == "FAILED x::y\n1 failed in 1s\n"


def test_a_summary_the_head_of_the_output_cuts_in_half_is_kept_whole() -> None:
    out = BoundedOutput(1000, lambda line: reports_failure("pytest", line))
    out.write(b"y" * 490 + b"\n1 failed, 1 passed in 0.05s\n" + b"x" * 5000)

    found = read_console("pytest", out.text())

    assert found is not None and found.failing_line == "1 failed, 1 passed in 0.05s"


def test_failure_lines_wholly_in_the_head_take_no_room_from_those_a_flood_would_cut() -> None:
    out = BoundedOutput(64 * 1024, lambda line: reports_failure("pytest", line))
    out.write(b"FAILED fake.py::t - planted\n" * (KEPT_LINES * 2))  # in the part that is always shown
    out.write(b"y" * 40_000 + b"\n1 failed, 1 passed in 0.05s\n" + b"x" * 200_000)

    assert "…[lines kept from the cut part:]…\n1 failed, 1 passed in 0.05s\n" in out.text()


def test_a_report_of_another_kind_is_not_read_after_the_framework_s_own_command() -> None:
    pytest_framework = framework_by_name(resolve_language("python"), "pytest")
    planted = {"rspec.json": b'{"summary": {"example_count": 2, "failure_count": 0, "pending_count": 0}}'}

    assert read_reports(planted, pytest_framework, fallbacks=False) == (None, None, None)
    report, _, source = read_reports(planted, pytest_framework)  # a test_command override may write any kind
    assert report is not None and report.tests_passed == 2 and source == "rspec:rspec.json"
