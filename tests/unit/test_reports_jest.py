"""Jest reports: the JSON of `jest --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_exec.models import CaseOutcome
from sigma_exec.reports import parse_test_report

DATA = Path(__file__).parents[1] / "data" / "reports"


def _parse(name: str):
    return parse_test_report("jest", (DATA / name).read_bytes())


def _counts(report) -> tuple[int | None, ...]:
    return (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)


def test_jest_counts_passed_failed_and_pending_plus_todo_as_skipped() -> None:
    report = _parse("jest-results.json")
    assert report.framework == "jest"
    assert report.error is None
    assert _counts(report) == (2, 1, 2, 0)


def test_jest_reads_cases_with_milliseconds_as_seconds() -> None:
    cases = _parse("jest-results.json").cases
    assert [(c.name, c.outcome) for c in cases] == [
        ("sum adds numbers", CaseOutcome.PASSED),
        ("sum adds wrong", CaseOutcome.FAILED),
        ("sum skipped one", CaseOutcome.SKIPPED),
        ("sum handles bigints", CaseOutcome.SKIPPED),
        ("divides", CaseOutcome.PASSED),
    ]
    assert cases[0].duration_s == 0.003
    assert cases[0].classname == "/workspace/sum.test.js"
    assert cases[2].duration_s is None
    assert cases[1].message is not None
    assert cases[1].message.startswith("Error: expect(received).toBe(expected)")


def test_jest_reports_a_suite_that_failed_to_run_as_errored() -> None:
    report = _parse("jest-runtime-error.json")
    assert _counts(report) == (1, 0, 0, 1)
    assert report.error is not None
    assert report.error.startswith("● Test suite failed to run")
    assert "SyntaxError: /workspace/broken/broken.test.js: Unexpected token (1:10)" in report.error
    assert len(report.error) <= 2000


def test_jest_accepts_failure_message_key_for_a_suite_error() -> None:
    doc = {
        "numPassedTests": 0,
        "numFailedTests": 0,
        "numPendingTests": 0,
        "numRuntimeErrorTestSuites": 1,
        "testResults": [{"assertionResults": [], "failureMessage": "Cannot find module 'x'"}],
    }
    report = parse_test_report("jest", json.dumps(doc).encode())
    assert report.error == "Cannot find module 'x'"
    assert _counts(report) == (0, 0, 0, 1)


def test_jest_skips_malformed_assertion_entries() -> None:
    doc = {
        "numPassedTests": 1,
        "numFailedTests": 0,
        "numPendingTests": 0,
        "numTodoTests": 0,
        "numRuntimeErrorTestSuites": 0,
        "testResults": [
            {"assertionResults": [7, {"status": "weird"}, {"status": "passed", "fullName": "ok", "duration": "x"}]},
            "junk",
        ],
    }
    report = parse_test_report("jest", json.dumps(doc).encode())
    assert [(c.name, c.duration_s) for c in report.cases] == [("ok", None)]
    assert _counts(report) == (1, 0, 0, 0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ((DATA / "jest-truncated.json").read_bytes(), "report unreadable: invalid JSON"),
        (b"", "report unreadable: empty"),
        (b"[1, 2, 3]", "report unreadable: expected a JSON object, got list"),
        (b'"numPassedTests"', "report unreadable: expected a JSON object, got str"),
        (b"{}", "report unreadable: numPendingTests is missing or not a count"),
        (
            b'{"numPassedTests": "3", "numFailedTests": 0, "numPendingTests": 0}',
            "report unreadable: numPassedTests is missing or not a count",
        ),
        (
            b'{"numPassedTests": -1, "numFailedTests": 0, "numPendingTests": 0}',
            "report unreadable: numPassedTests is missing or not a count",
        ),
        (
            b'{"numPassedTests": true, "numFailedTests": 0, "numPendingTests": 0}',
            "report unreadable: numPassedTests is missing or not a count",
        ),
        (b"[" * 10_000_000, "report unreadable: JSON nested too deeply"),
    ],
)
def test_jest_reports_bad_json_as_unreadable(data: bytes, reason: str) -> None:
    report = parse_test_report("jest", data)
    assert report.error is not None
    assert report.error.startswith(reason)
    assert _counts(report) == (None, None, None, None)


# Case ids: `relpath::full name`, what `jest --runTestsByPath FILE -t NAME` (vitest, mocha --grep) selects.


def _ids(name: str) -> list[tuple[str, CaseOutcome]]:
    return [(case.id, case.outcome) for case in _parse(name).cases]


def test_jest_ids_name_the_file_under_the_workspace_and_the_full_name() -> None:
    assert _ids("jest-results.json") == [
        ("sum.test.js::sum adds numbers", CaseOutcome.PASSED),
        ("sum.test.js::sum adds wrong", CaseOutcome.FAILED),
        ("sum.test.js::sum skipped one", CaseOutcome.SKIPPED),
        ("sum.test.js::sum handles bigints", CaseOutcome.SKIPPED),
        ("sum.test.js::divides", CaseOutcome.PASSED),
    ]


def test_jest_ids_of_nested_describes_and_each_tables_carry_the_formatted_names() -> None:
    assert _ids("jest-nested-run1.json") == [
        ("__tests__/shapes.test.js::shapes square area", CaseOutcome.PASSED),
        ("__tests__/shapes.test.js::shapes square area of 1 is 1", CaseOutcome.PASSED),
        ("__tests__/shapes.test.js::shapes square area of 2 is 4", CaseOutcome.PASSED),
        ("__tests__/shapes.test.js::shapes square area of 3 is 10", CaseOutcome.FAILED),
        ("__tests__/shapes.test.js::shapes circle has 0 sides", CaseOutcome.PASSED),
        ("__tests__/shapes.test.js::shapes triangle has 3 sides", CaseOutcome.PASSED),
        ("__tests__/shapes.test.js::shapes odd (name) [with] $pecial * chars?", CaseOutcome.PASSED),
        ("__tests__/shapes.test.js::shapes not yet", CaseOutcome.SKIPPED),
        ("__tests__/shapes.test.js::top level", CaseOutcome.PASSED),
        ("src/deep/util.test.js::util top level", CaseOutcome.PASSED),
    ]


def test_jest_ids_are_the_same_for_two_runs_of_the_same_code_and_two_parses() -> None:
    # Two captured runs of one test file (their timings differ), and one of them parsed twice.
    assert (DATA / "jest-nested-run1.json").read_bytes() != (DATA / "jest-nested-run2.json").read_bytes()
    first, second = _parse("jest-nested-run1.json"), _parse("jest-nested-run2.json")
    assert [c.id for c in first.cases] == [c.id for c in second.cases]
    assert [c.id for c in first.cases] == [c.id for c in _parse("jest-nested-run1.json").cases]
    assert len({c.id for c in first.cases}) == len(first.cases)


def test_vitest_ids_use_its_full_name_the_same_way() -> None:
    assert _ids("vitest-nested.json") == [
        ("nested.test.js::shapes square area", CaseOutcome.PASSED),
        ("nested.test.js::shapes square area of 1 is 1", CaseOutcome.PASSED),
        ("nested.test.js::shapes square area of 3 is 10", CaseOutcome.FAILED),
        ("nested.test.js::shapes not yet", CaseOutcome.SKIPPED),
        ("sum.test.js::adds", CaseOutcome.PASSED),
        ("sum.test.js::fails", CaseOutcome.FAILED),
        ("sum.test.js::skipped", CaseOutcome.SKIPPED),
    ]


def test_mocha_ids_from_our_reporter_use_its_full_title_and_name_a_failed_hook() -> None:
    cases = _parse("mocha-nested.json").cases
    assert [(c.id, c.outcome) for c in cases] == [
        ("test/nested.test.js::shapes not yet", CaseOutcome.SKIPPED),
        ("test/nested.test.js::shapes square area", CaseOutcome.PASSED),
        ("test/nested.test.js::shapes square area of 1 is 1", CaseOutcome.PASSED),
        ("test/nested.test.js::shapes square area of 3 is 10", CaseOutcome.FAILED),
        ('test/nested.test.js::shapes broken hook "before all" hook for "never runs"', CaseOutcome.FAILED),
        ("test/t.test.js::chunk pairs", CaseOutcome.PASSED),
        ("test/t.test.js::chunk fails", CaseOutcome.FAILED),
        ("test/t.test.js::chunk skipped", CaseOutcome.SKIPPED),
    ]
    assert cases[3].message is not None and "9 !== 10" in cases[3].message


@pytest.mark.parametrize(
    ("suite_name", "item", "case_id"),
    [
        ("/workspace/a.test.js", {"fullName": "x y", "title": "y"}, "a.test.js::x y"),
        ("/workspace/a.test.js", {"fullName": "", "title": "y"}, "a.test.js::y"),
        ("/workspace/a.test.js", {"fullName": ["not", "text"], "title": "y"}, "a.test.js::y"),
        ("/elsewhere/a.test.js", {"fullName": "x"}, "/elsewhere/a.test.js::x"),
        ("/workspacex/a.test.js", {"fullName": "x"}, "/workspacex/a.test.js::x"),
        (None, {"fullName": "x"}, "x"),
        ("/workspace/a::b.test.js", {"fullName": "Foo::bar"}, "a::b.test.js::Foo::bar"),
    ],
)
def test_jest_ids_from_odd_reports(suite_name: object, item: dict[str, object], case_id: str) -> None:
    doc = {
        "numPassedTests": 1,
        "numFailedTests": 0,
        "numPendingTests": 0,
        "testResults": [{"name": suite_name, "assertionResults": [{"status": "passed", **item}]}],
    }
    [case] = parse_test_report("jest", json.dumps(doc).encode()).cases
    assert case.id == case_id
