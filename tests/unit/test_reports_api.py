"""The public interface of sigma_exec.reports: dispatch, hostile input, merging."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from sigma_exec.constants import REPORT_CAP_BYTES
from sigma_exec.models import CaseOutcome, ParsedReport, TestCase
from sigma_exec.reports import (
    COVERAGE_KINDS,
    TEST_REPORT_KINDS,
    merge_reports,
    parse_coverage,
    parse_test_report,
)

DATA = Path(__file__).parents[1] / "data" / "reports"
FIXTURES = {
    "junit": "junit-pytest.xml",
    "jest": "jest-results.json",
    "gotest": "gotest-mixed.jsonl",
    "rspec": "rspec-results.json",
    "minitest": "minitest-output.txt",
}
COVERAGE_FIXTURES = {
    "coveragepy": "coverage-py.json",
    "jest-summary": "jest-coverage-summary.json",
    "gocover": "gocover-coverpkg.out",
    "jacoco": "jacoco.xml",
    "simplecov": "simplecov-last_run.json",
}


def test_reports_names_every_supported_kind() -> None:
    assert frozenset({"junit", "jest", "gotest", "rspec", "minitest"}) == TEST_REPORT_KINDS
    assert frozenset({"coveragepy", "jest-summary", "gocover", "jacoco", "simplecov"}) == COVERAGE_KINDS
    assert set(FIXTURES) == TEST_REPORT_KINDS
    assert set(COVERAGE_FIXTURES) == COVERAGE_KINDS


def test_reports_rejects_an_unknown_test_report_kind_by_name() -> None:
    with pytest.raises(ValueError, match="'tap'"):
        parse_test_report("tap", b"ok 1")


@pytest.mark.parametrize("kind", sorted(TEST_REPORT_KINDS))
def test_reports_sets_the_framework_to_the_kind(kind: str) -> None:
    report = parse_test_report(kind, (DATA / FIXTURES[kind]).read_bytes())
    assert report.framework == kind
    assert report.tests_passed is not None


@pytest.mark.parametrize("kind", sorted(TEST_REPORT_KINDS))
def test_reports_refuses_input_over_the_size_cap(kind: str) -> None:
    report = parse_test_report(kind, b" " * (REPORT_CAP_BYTES + 1))
    assert report == ParsedReport(framework=kind, error=f"report unreadable: over {REPORT_CAP_BYTES} bytes")


@pytest.mark.parametrize("kind", sorted(TEST_REPORT_KINDS))
@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\xff\xfe\x80", b"[" * 10_000_000, b"{" * 10_000_000, b"<a>" * 300_000, b"[1, 2, 3]", b"null"],
    ids=["empty", "binary", "nested-brackets", "nested-braces", "nested-xml", "json-array", "json-null"],
)
def test_reports_turns_hostile_input_into_an_unreadable_report(kind: str, data: bytes) -> None:
    start = time.monotonic()
    report = parse_test_report(kind, data)
    assert time.monotonic() - start < 5.0
    assert report.error is not None
    assert report.error.startswith("report unreadable: ")
    assert (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored) == (None,) * 4


@pytest.mark.parametrize("kind", sorted(TEST_REPORT_KINDS))
def test_reports_never_raises_on_truncated_or_corrupted_real_reports(kind: str) -> None:
    data = (DATA / FIXTURES[kind]).read_bytes()
    rng = random.Random(kind)
    for cut in range(0, len(data), max(1, len(data) // 60)):
        assert isinstance(parse_test_report(kind, data[:cut]), ParsedReport)
    for _ in range(60):
        corrupted = bytearray(data)
        for _ in range(5):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        assert isinstance(parse_test_report(kind, bytes(corrupted)), ParsedReport)


@pytest.mark.parametrize("kind", sorted(COVERAGE_KINDS))
def test_reports_never_raises_on_truncated_coverage_reports(kind: str) -> None:
    data = (DATA / COVERAGE_FIXTURES[kind]).read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 60)):
        report = parse_coverage(kind, data[:cut])
        assert report is None or 0 <= report.percent <= 100


def _case(name: str) -> TestCase:
    return TestCase(name=name, outcome=CaseOutcome.PASSED)


def test_merge_reports_sums_counts_and_keeps_none_only_where_all_are_none() -> None:
    first = ParsedReport(framework="junit", tests_passed=2, tests_failed=None, tests_skipped=1, cases=[_case("a")])
    second = ParsedReport(framework="junit", tests_passed=3, tests_failed=1, tests_skipped=None, cases=[_case("b")])
    merged = merge_reports([first, second], framework="maven")
    assert merged == ParsedReport(
        framework="maven",
        tests_passed=5,
        tests_failed=1,
        tests_skipped=1,
        tests_errored=None,
        cases=[_case("a"), _case("b")],
    )


def test_merge_reports_joins_errors_in_order() -> None:
    reports = [
        ParsedReport(framework="gotest", error="report unreadable: empty"),
        ParsedReport(framework="gotest", tests_passed=1),
        ParsedReport(framework="gotest", tests_errored=1, error="build failed"),
    ]
    merged = merge_reports(reports, framework="gotest")
    assert merged.error == "report unreadable: empty\nbuild failed"
    assert (merged.tests_passed, merged.tests_errored, merged.tests_failed) == (1, 1, None)


def test_merge_reports_of_nothing_is_an_empty_report() -> None:
    assert merge_reports([], framework="junit") == ParsedReport(framework="junit")


def test_merge_reports_caps_the_joined_cases() -> None:
    report = ParsedReport(framework="junit", tests_passed=3000, cases=[_case(str(i)) for i in range(3000)])
    merged = merge_reports([report, report], framework="junit")
    assert merged.tests_passed == 6000
    assert len(merged.cases) == 5000
