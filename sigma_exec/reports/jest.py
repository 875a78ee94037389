"""Jest: the JSON written by `jest --json` (optionally with --outputFile), or by Vitest's JSON
reporter and sigma-exec's Mocha reporter in the same format.

A case's id is `relpath::full name`: the test file relative to the workspace, and Jest's fullName
(ancestor titles and title joined by spaces, also Vitest's fullName and Mocha's fullTitle), what
`jest --runTestsByPath FILE -t NAME` selects. The image's jest-rerun.js names cases the same way.
"""

from __future__ import annotations

from typing import Any

from sigma_exec.constants import WORKSPACE_DIR
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
    name = _text(item.get("fullName")) or _text(item.get("title"))
    classname = suite_name if isinstance(suite_name, str) else ""
    messages = item.get("failureMessages")
    message = None
    if isinstance(messages, list):
        message = clip("\n".join(m for m in messages if isinstance(m, str)))
    return TestCase(
        name=name,
        classname=classname,
        id=case_id(classname, name),
        outcome=_STATUS[item["status"]],
        duration_s=as_seconds(item.get("duration"), scale=0.001),
        message=message,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def case_id(test_file: str, full_name: str) -> str:
    """`relpath::full name`, the path relative to the workspace (a path outside it stays as it is)."""
    prefix = WORKSPACE_DIR + "/"
    relpath = test_file[len(prefix) :] if test_file.startswith(prefix) else test_file
    return f"{relpath}::{full_name}" if relpath else full_name


def _suite_error(suites: list[dict[str, Any]]) -> str | None:
    """Return the message of the first suite that failed to run (no assertions, a failure message)."""
    for suite in suites:
        if suite.get("assertionResults"):
            continue
        message = suite.get("failureMessage") or suite.get("message")
        if isinstance(message, str) and message.strip():
            return clip(message.strip())
    return None
