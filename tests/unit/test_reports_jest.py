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
