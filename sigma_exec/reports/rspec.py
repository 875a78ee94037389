"""RSpec: the JSON written by `rspec --format json`."""

from __future__ import annotations

from typing import Any

from sigma_exec.models import CaseOutcome, ParsedReport, TestCase
from sigma_exec.reports._common import (
    ERROR_CHARS,
    MAX_CASES,
    ReportUnreadable,
    as_seconds,
    clip,
    load_json_object,
    optional_count,
    require_count,
)

FRAMEWORK = "rspec"
_STATUS = {"passed": CaseOutcome.PASSED, "failed": CaseOutcome.FAILED, "pending": CaseOutcome.SKIPPED}


def parse(data: bytes) -> ParsedReport:
    """Read the counts and examples of an `rspec --format json` report."""
    doc = load_json_object(data)
    summary = doc.get("summary")
    if not isinstance(summary, dict):
        raise ReportUnreadable("no summary object")
    examples = require_count(summary, "example_count")
    failed = require_count(summary, "failure_count")
    pending = require_count(summary, "pending_count")
    errored = optional_count(summary, "errors_outside_of_examples_count")
    if failed + pending > examples:
        raise ReportUnreadable("more failures and pending examples than examples")
    error = _messages(doc) if errored and examples == 0 else None
    return ParsedReport(
        framework=FRAMEWORK,
        tests_passed=examples - failed - pending,
        tests_failed=failed,
        tests_skipped=pending,
        tests_errored=errored,
        cases=_cases(doc.get("examples")),
        error=error,
    )


def _cases(examples: object) -> list[TestCase]:
    if not isinstance(examples, list):
        return []
    cases = [case for case in map(_case, examples[:MAX_CASES]) if case is not None]
    return cases


def _case(example: object) -> TestCase | None:
    if not isinstance(example, dict) or example.get("status") not in _STATUS:
        return None
    outcome = _STATUS[example["status"]]
    name = example.get("full_description") or example.get("description")
    path = example.get("file_path")
    return TestCase(
        name=name if isinstance(name, str) else "",
        classname=path if isinstance(path, str) else "",
        outcome=outcome,
        duration_s=as_seconds(example.get("run_time")),
        message=_message(example, outcome),
    )


def _message(example: dict[str, Any], outcome: CaseOutcome) -> str | None:
    if outcome is CaseOutcome.SKIPPED:
        return clip(example.get("pending_message"))
    exception = example.get("exception")
    if not isinstance(exception, dict):
        return None
    message = exception.get("message")
    return clip(message.strip()) if isinstance(message, str) else None


def _messages(doc: dict[str, Any]) -> str | None:
    messages = doc.get("messages")
    if not isinstance(messages, list):
        return None
    return clip("\n".join(m.strip() for m in messages if isinstance(m, str) and m.strip()), ERROR_CHARS)
