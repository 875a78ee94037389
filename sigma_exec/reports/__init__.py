"""Pure parsers of the machine-readable test and coverage reports that untrusted code leaves behind.

Nothing here does I/O, and nothing raises on bad data: an unreadable test report
comes back as `ParsedReport(error="report unreadable: <reason>")` with no counts,
an unreadable coverage report as None. Only an unknown `kind` raises ValueError.
`diagnose_no_tests` reads a runner's exit code and terminal output (never for counts) to
say why a run stopped before its first test, for the runners whose output says it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sigma_exec.models import CoverageReport, ParsedReport, TestCase
from sigma_exec.reports import coverage, gotest, jest, junit, minitest, pytest_console, rspec
from sigma_exec.reports._common import MAX_CASES, ReportUnreadable, unreadable
from sigma_exec.reports.pytest_console import EarlyStop

__all__ = [
    "COVERAGE_KINDS",
    "TEST_REPORT_KINDS",
    "EarlyStop",
    "diagnose_no_tests",
    "merge_reports",
    "parse_coverage",
    "parse_test_report",
]

_TEST_PARSERS: dict[str, Callable[[bytes], ParsedReport]] = {
    "junit": junit.parse,
    "jest": jest.parse,
    "gotest": gotest.parse,
    "rspec": rspec.parse,
    "minitest": minitest.parse,
}
# By framework name: what a runner's exit code and output say about a run that ran no test.
_NO_TEST_DIAGNOSES: dict[str, Callable[[int | None, str], EarlyStop | None]] = {
    "pytest": pytest_console.no_test_reason,
}
TEST_REPORT_KINDS: frozenset[str] = frozenset(_TEST_PARSERS)
COVERAGE_KINDS: frozenset[str] = frozenset(coverage.PARSERS)


def parse_test_report(kind: str, data: bytes) -> ParsedReport:
    """Return the counts and cases of a test report of `kind`; never raises on bad data."""
    parser = _TEST_PARSERS.get(kind)
    if parser is None:
        raise ValueError(f"unknown test report kind {kind!r}; expected one of {sorted(TEST_REPORT_KINDS)}")
    try:
        return parser(data)
    except ReportUnreadable as exc:
        return unreadable(kind, str(exc))
    except RecursionError:
        return unreadable(kind, "nested too deeply")
    except Exception as exc:  # hostile input must never escape as an exception
        return unreadable(kind, f"{type(exc).__name__}: {str(exc)[:200]}")


def parse_coverage(kind: str, data: bytes) -> CoverageReport | None:
    """Return the line coverage in a coverage report of `kind`, or None if it holds no valid figure."""
    parser = coverage.PARSERS.get(kind)
    if parser is None:
        raise ValueError(f"unknown coverage kind {kind!r}; expected one of {sorted(COVERAGE_KINDS)}")
    try:
        return parser(data)
    except Exception:  # unreadable, hostile or truncated: no figure
        return None


def diagnose_no_tests(framework: str | None, exit_code: int | None, output: str) -> EarlyStop | None:
    """Return why `framework`'s runner stopped before any test, or None (it may have run tests)."""
    diagnose = _NO_TEST_DIAGNOSES.get(framework or "")
    if diagnose is None:
        return None
    try:
        return diagnose(exit_code, output)
    except Exception:  # hostile output must never escape; the exit code alone still fails the run
        return None


def merge_reports(reports: list[ParsedReport], framework: str) -> ParsedReport:
    """Sum the counts (None only where every report has None), join the cases and the errors."""
    cases: list[TestCase] = []
    for report in reports:
        cases.extend(report.cases[: MAX_CASES - len(cases)])
    errors = [report.error for report in reports if report.error]
    return ParsedReport(
        framework=framework,
        tests_passed=_sum(r.tests_passed for r in reports),
        tests_failed=_sum(r.tests_failed for r in reports),
        tests_skipped=_sum(r.tests_skipped for r in reports),
        tests_errored=_sum(r.tests_errored for r in reports),
        cases=cases,
        error="\n".join(errors) if errors else None,
    )


def _sum(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
