"""Minitest: the plain-text summary line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_exec.models import CaseOutcome
from sigma_exec.reports import parse_test_report

DATA = Path(__file__).parents[1] / "data" / "reports"


def _counts(report) -> tuple[int | None, ...]:
    return (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)


def test_minitest_counts_runs_failures_errors_and_skips() -> None:
    report = parse_test_report("minitest", (DATA / "minitest-output.txt").read_bytes())
    assert report.framework == "minitest"
    assert report.error is None
    assert _counts(report) == (2, 1, 1, 1)


def test_minitest_reads_failures_and_errors_as_cases() -> None:
    cases = parse_test_report("minitest", (DATA / "minitest-output.txt").read_bytes()).cases
    assert [(c.classname, c.name, c.outcome) for c in cases] == [
        ("CalcTest", "test_divides_by_zero", CaseOutcome.ERRORED),
        ("CalcTest", "test_adds_wrong", CaseOutcome.FAILED),
    ]
    assert cases[1].message == "Expected: 5\n  Actual: 4"


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("3 runs, 5 assertions, 1 failures, 1 errors, 1 skips", (0, 1, 1, 1)),
        ("1 runs, 1 assertions, 0 failures, 0 errors, 0 skips", (1, 0, 0, 0)),
        (
            "10 runs, 20 assertions, 0 failures, 0 errors, 0 skips\n"
            "7 runs, 9 assertions, 2 failures, 0 errors, 1 skips\n",
            (4, 2, 1, 0),
        ),
        (
            "\x1b[32m6 tests\x1b[0m, 8 assertions, \x1b[31m1 failures\x1b[0m, 0 errors, \x1b[33m2 skips\x1b[0m",
            (3, 1, 2, 0),
        ),
        ("Finished.\r\n4 runs, 4 assertions, 0 failures, 1 errors, 0 skips\r\n", (3, 0, 0, 1)),
    ],
)
def test_minitest_takes_the_last_summary_line_with_colours_stripped(text: str, counts: tuple[int, ...]) -> None:
    assert _counts(parse_test_report("minitest", text.encode())) == counts


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "report unreadable: empty"),
        (b"Run options: --seed 1\n\n# Running:\n\n", "report unreadable: no minitest summary line"),
        (b"1 runs, 1 assertions, 1 failures, 1 errors, 0 skips", "report unreadable: more failures"),
        (b"1" * 5_000_000 + b" runs, 1 assertions, 0 failures, 0 errors, 0 skips", "report unreadable: no minitest"),
    ],
)
def test_minitest_reports_text_without_a_summary_as_unreadable(data: bytes, reason: str) -> None:
    report = parse_test_report("minitest", data)
    assert report.error is not None
    assert report.error.startswith(reason)
    assert _counts(report) == (None, None, None, None)
