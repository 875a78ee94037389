"""JUnit XML reports: pytest --junitxml, Maven Surefire and the JUnit Platform console launcher."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sigma_exec.models import CaseOutcome
from sigma_exec.reports import merge_reports, parse_test_report

DATA = Path(__file__).parents[1] / "data" / "reports"


def _parse(name: str):
    return parse_test_report("junit", (DATA / name).read_bytes())


def _counts(report) -> tuple[int | None, ...]:
    return (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)


@pytest.mark.parametrize(
    ("fixture", "counts"),
    [
        ("junit-pytest.xml", (4, 2, 2, 1)),
        ("junit-pytest-no-tests.xml", (0, 0, 0, 0)),
        ("junit-surefire-TEST-demo.CalcTest.xml", (2, 1, 1, 1)),
        ("junit-platform-TEST-junit-jupiter.xml", (2, 1, 1, 1)),
        ("junit-platform-TEST-junit-vintage.xml", (0, 0, 0, 0)),
    ],
)
def test_junit_counts_failures_errors_and_skips(fixture: str, counts: tuple[int, ...]) -> None:
    report = _parse(fixture)
    assert report.framework == "junit"
    assert report.error is None
    assert _counts(report) == counts


@pytest.mark.parametrize(
    ("fixture", "errored", "error"),
    [
        (
            "junit-pytest-collection-error.xml",
            1,
            "collection error: test_broken: ModuleNotFoundError: No module named 'nonexistent_mod'",
        ),
        (
            "junit-pytest-module-import-error.xml",
            1,
            "collection error: test_broken: ModuleNotFoundError: No module named 'nonexistent_mod'",
        ),
        ("junit-pytest-syntax-error.xml", 1, "collection error: test_syntax: SyntaxError: invalid syntax (line 1)"),
        (
            "junit-pytest-subdir-conftest-error.xml",
            1,
            "collection error: tests/unit/conftest.py: ModuleNotFoundError: No module named 'freezegun'",
        ),
        (
            "junit-pytest-two-collection-errors.xml",
            2,
            "2 collection errors: test_a_import: ModuleNotFoundError: No module named 'nonexistent_mod'; "
            "test_b_syntax: SyntaxError: invalid syntax (line 1)",
        ),
    ],
)
def test_pytest_collection_failures_are_errored_cases_and_the_report_names_their_cause(
    fixture: str, errored: int, error: str
) -> None:
    report = _parse(fixture)
    assert _counts(report) == (0, 0, 0, errored)
    assert report.error == error
    assert all(c.message and c.message.startswith("collection failure: ") for c in report.cases)


def test_junit_reads_pytest_cases_with_outcome_duration_and_message() -> None:
    cases = _parse("junit-pytest.xml").cases
    assert [(c.name, c.outcome) for c in cases] == [
        ("test_add", CaseOutcome.PASSED),
        ("test_div", CaseOutcome.PASSED),
        ("test_add_wrong", CaseOutcome.FAILED),
        ("test_skipped", CaseOutcome.SKIPPED),
        ("test_uses_broken", CaseOutcome.ERRORED),
        ("test_add_table[1-1-2]", CaseOutcome.PASSED),
        ("test_add_table[0-5-5]", CaseOutcome.PASSED),
        ("test_add_table[3-3-7]", CaseOutcome.FAILED),
        ("test_xfail", CaseOutcome.SKIPPED),
    ]
    wrong = cases[2]
    assert wrong.classname == "test_calc"
    assert wrong.duration_s == 0.003
    assert wrong.message == "AssertionError: two plus two\nassert 4 == 5\n +  where 4 = add(2, 2)"
    assert cases[4].message == 'failed on setup with "RuntimeError: fixture exploded"'
    assert cases[0].message is None


def test_junit_reads_surefire_messages_from_the_message_attribute() -> None:
    cases = {c.name: c for c in _parse("junit-surefire-TEST-demo.CalcTest.xml").cases}
    assert cases["addsWrong"].message == "two plus two ==> expected: <5> but was: <4>"
    assert cases["dividesByZero"].outcome is CaseOutcome.ERRORED
    assert cases["dividesByZero"].message == "/ by zero"
    assert cases["pending"].message == "not ready"
    assert cases["addsNumbers"].classname == "demo.CalcTest"


def test_junit_falls_back_to_element_text_when_skip_has_no_message() -> None:
    cases = {c.name: c for c in _parse("junit-platform-TEST-junit-jupiter.xml").cases}
    assert cases["pending()"].outcome is CaseOutcome.SKIPPED
    assert cases["pending()"].message == "not ready"


def test_junit_merges_console_launcher_reports_of_every_engine() -> None:
    reports = [_parse("junit-platform-TEST-junit-jupiter.xml"), _parse("junit-platform-TEST-junit-vintage.xml")]
    merged = merge_reports(reports, framework="junit5")
    assert merged.framework == "junit5"
    assert _counts(merged) == (2, 1, 1, 1)
    assert len(merged.cases) == 5


def test_junit_uses_suite_attributes_when_a_suite_lists_no_cases() -> None:
    xml = (
        b'<testsuites><testsuite name="a" tests="7" failures="2" errors="1" skipped="1"/>'
        b'<testsuite name="b"><testcase name="t" classname="b"/></testsuite></testsuites>'
    )
    report = parse_test_report("junit", xml)
    assert _counts(report) == (4, 2, 1, 1)
    assert [c.name for c in report.cases] == ["t"]


def test_junit_counts_nested_suites_once() -> None:
    xml = (
        b'<testsuites tests="3"><testsuite name="outer" tests="3" failures="1">'
        b'<testsuite name="inner"><testcase name="a"/><testcase name="b"><failure message="x"/></testcase>'
        b'</testsuite><testcase name="c"/></testsuite></testsuites>'
    )
    assert _counts(parse_test_report("junit", xml)) == (2, 1, 0, 0)


def test_junit_caps_cases_but_keeps_counts_complete() -> None:
    body = b'<testcase name="t" time="0.1"/>' * 6000
    report = parse_test_report("junit", b"<testsuite>" + body + b"</testsuite>")
    assert report.tests_passed == 6000
    assert len(report.cases) == 5000


def test_junit_truncates_long_messages_to_2000_chars() -> None:
    xml = b'<testsuite><testcase name="t"><failure message="' + b"m" * 5000 + b'"/></testcase></testsuite>'
    message = parse_test_report("junit", xml).cases[0].message
    assert message is not None
    assert len(message) == 2000


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("junit-billion-laughs.xml", "report unreadable: forbidden XML construct: DTDForbidden"),
        ("junit-xxe.xml", "report unreadable: forbidden XML construct: DTDForbidden"),
    ],
)
def test_junit_refuses_dtds_without_expanding_them(fixture: str, reason: str) -> None:
    start = time.monotonic()
    report = _parse(fixture)
    assert time.monotonic() - start < 1.0
    assert report.error == reason
    assert _counts(report) == (None, None, None, None)
    assert "root:" not in report.model_dump_json()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ((DATA / "junit-truncated.xml").read_bytes(), "report unreadable: invalid XML: unclosed token"),
        (b"", "report unreadable: empty"),
        (b"   \n", "report unreadable: empty"),
        (b"<html><body>502</body></html>", "report unreadable: root element is <html>"),
        (b"not xml at all", "report unreadable: invalid XML"),
        (b'<testsuite tests="many"/>', "report unreadable: testsuite tests='many' is not a count"),
        (b'<testsuite tests="1" failures="3"/>', "report unreadable: suite '' has more outcomes than tests"),
        (b"<testsuite>" + b"<a/>" * 1_100_000 + b"</testsuite>", "report unreadable: over 1000000 XML tags"),
    ],
)
def test_junit_reports_bad_documents_as_unreadable(data: bytes, reason: str) -> None:
    report = parse_test_report("junit", data)
    assert report.error is not None
    assert report.error.startswith(reason)
    assert _counts(report) == (None, None, None, None)
    assert report.cases == []


def test_junit_reads_invalid_utf8_with_replacement_characters() -> None:
    xml = b'<testsuite><testcase name="caf\xe9"><failure message="bad \xff byte"/></testcase></testsuite>'
    report = parse_test_report("junit", xml)
    assert report.tests_failed == 1
    assert report.cases[0].name == "caf\ufffd"


def test_junit_ignores_a_negative_or_garbage_time() -> None:
    xml = b'<testsuite><testcase name="a" time="-1"/><testcase name="b" time="soon"/></testsuite>'
    assert [c.duration_s for c in parse_test_report("junit", xml).cases] == [None, None]
