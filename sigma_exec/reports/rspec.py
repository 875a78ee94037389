"""RSpec: the JSON written by `rspec --format json`.

A case's id is RSpec's own example id (`./spec/calc_spec.rb[1:2]`, the example's place in its nested
groups), which `rspec <id>` runs again; a report without ids (RSpec before 3.3) gives `file_path:line_number`.
"""

from __future__ import annotations

from typing import Any

from sigma_exec.models import CaseOutcome, ParsedReport, TestCase
from sigma_exec.reports._common import (
    ERROR_CHARS,
    MAX_CASES,
    ReportUnreadable,
    as_count,
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
    path = path if isinstance(path, str) else ""
    return TestCase(
        name=name if isinstance(name, str) else "",
        classname=path,
        id=example_id(example, path),
        outcome=outcome,
        duration_s=as_seconds(example.get("run_time")),
        message=_message(example, outcome),
    )


def example_id(example: dict[str, Any], path: str) -> str:
    """RSpec's id of the example, else `path:line` (both select it on rspec's command line); "" if neither."""
    given = example.get("id")
    if isinstance(given, str) and given:
        return given
    line = as_count(example.get("line_number"))
    return f"{path}:{line}" if path and line else ""


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
