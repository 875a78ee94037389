"""Jest: the JSON written by `jest --json` (optionally with --outputFile)."""

from __future__ import annotations

from typing import Any

from sigma_exec.models import CaseOutcome, ParsedReport, TestCase
from sigma_exec.reports._common import (
    MAX_CASES,
    as_seconds,
    clip,
    load_json_object,
    optional_count,
    require_count,
)

FRAMEWORK = "jest"
_STATUS = {
    "passed": CaseOutcome.PASSED,
    "failed": CaseOutcome.FAILED,
    "pending": CaseOutcome.SKIPPED,
    "todo": CaseOutcome.SKIPPED,
    "skipped": CaseOutcome.SKIPPED,
    "disabled": CaseOutcome.SKIPPED,
}


def parse(data: bytes) -> ParsedReport:
    """Read the counts and cases of a `jest --json` report."""
    doc = load_json_object(data)
    skipped = require_count(doc, "numPendingTests") + (optional_count(doc, "numTodoTests") or 0)
    errored = optional_count(doc, "numRuntimeErrorTestSuites")
    suites = _suites(doc)
    return ParsedReport(
        framework=FRAMEWORK,
        tests_passed=require_count(doc, "numPassedTests"),
        tests_failed=require_count(doc, "numFailedTests"),
        tests_skipped=skipped,
        tests_errored=errored,
        cases=_cases(suites),
        error=_suite_error(suites) if errored else None,
    )


def _suites(doc: dict[str, Any]) -> list[dict[str, Any]]:
    results = doc.get("testResults")
    if not isinstance(results, list):
        return []
    return [suite for suite in results if isinstance(suite, dict)]


def _cases(suites: list[dict[str, Any]]) -> list[TestCase]:
    cases: list[TestCase] = []
    for suite in suites:
        assertions = suite.get("assertionResults")
        if not isinstance(assertions, list):
            continue
        for item in assertions:
            case = _case(item, suite.get("name"))
            if case is not None:
                cases.append(case)
            if len(cases) >= MAX_CASES:
                return cases
    return cases


def _case(item: object, suite_name: object) -> TestCase | None:
    if not isinstance(item, dict) or item.get("status") not in _STATUS:
        return None
    name = item.get("fullName") or item.get("title")
    messages = item.get("failureMessages")
    message = None
    if isinstance(messages, list):
        message = clip("\n".join(m for m in messages if isinstance(m, str)))
    return TestCase(
        name=name if isinstance(name, str) else "",
        classname=suite_name if isinstance(suite_name, str) else "",
        outcome=_STATUS[item["status"]],
        duration_s=as_seconds(item.get("duration"), scale=0.001),
        message=message,
    )


def _suite_error(suites: list[dict[str, Any]]) -> str | None:
    """Return the message of the first suite that failed to run (no assertions, a failure message)."""
    for suite in suites:
        if suite.get("assertionResults"):
            continue
        message = suite.get("failureMessage") or suite.get("message")
        if isinstance(message, str) and message.strip():
            return clip(message.strip())
    return None
