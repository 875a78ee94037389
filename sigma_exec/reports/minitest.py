"""Minitest: sigma-exec's per-test JSON report, or else the plain-text summary line.

sigma-exec's minitest plugin (config/languages/ruby.toml) writes `minitest-<pid>.json`:
`{"format": "sigma-exec-minitest", "summary": {"runs": 3, "assertions": 5, "failures": 1, "errors": 1,
"skips": 1}, "tests": [{"class": "CalcTest", "name": "test_x", "outcome": "failed", "time": 0.1,
"message": "..."}]}`, every case with its id, minitest's own `Class#method`. Without it (a custom
command that only prints), the runner's output is read: the last line like
`3 runs, 5 assertions, 1 failures, 1 errors, 1 skips`, and the failures and errors it details.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sigma_exec.models import CaseOutcome, ParsedReport, TestCase
from sigma_exec.reports._common import (
    MAX_CASES,
    ReportUnreadable,
    as_seconds,
    clip,
    decode,
    require_count,
)

FRAMEWORK = "minitest"
JSON_FORMAT = "sigma-exec-minitest"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_SUMMARY = re.compile(
    r"(?<!\d)(\d{1,12}) (?:runs?|tests?), (\d{1,12}) assertions?, (\d{1,12}) failures?, "
    r"(\d{1,12}) errors?, (\d{1,12}) skips?"
)
# "  1) Failure:\nCalcTest#test_x [file.rb:9]:\nExpected: 5\n  Actual: 4\n\n": read line by line (linear).
_PROBLEM_HEAD = re.compile(r" *\d{1,9}\) (Failure|Error):")
MAX_MESSAGE_LINES = 200
_TEXT_OUTCOME = {"Failure": CaseOutcome.FAILED, "Error": CaseOutcome.ERRORED}
_JSON_OUTCOME = {outcome.value: outcome for outcome in CaseOutcome}


def parse(data: bytes) -> ParsedReport:
    """Read the counts and cases of sigma-exec's minitest JSON, or of minitest's text output."""
    text = decode(data)
    doc = _sigma_json(text)
    if doc is not None:
        return _from_json(doc)
    return _from_text(_ANSI.sub("", text).replace("\r\n", "\n"))


def case_id(classname: str, name: str) -> str:
    """Minitest's own name of a case, what its `-n` selects: `Class#method`."""
    return f"{classname}#{name}"


def _sigma_json(text: str) -> dict[str, Any] | None:
    """The document when `text` is sigma-exec's JSON report; None for anything else (text output)."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # output that merely starts with "{" is read as text
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == JSON_FORMAT else None


def _from_json(doc: dict[str, Any]) -> ParsedReport:
    summary = doc.get("summary")
    if not isinstance(summary, dict):
        raise ReportUnreadable("no summary object")
    runs, failed, errored, skipped = (require_count(summary, k) for k in ("runs", "failures", "errors", "skips"))
    tests = doc.get("tests")
    cases = [case for case in map(_json_case, tests[:MAX_CASES]) if case is not None] if isinstance(tests, list) else []
    return _report(runs, failed, errored, skipped, cases)


def _json_case(entry: object) -> TestCase | None:
    if not isinstance(entry, dict):
        return None
    classname, name, outcome = entry.get("class"), entry.get("name"), entry.get("outcome")
    if not isinstance(classname, str) or not isinstance(name, str) or not name or outcome not in _JSON_OUTCOME:
        return None
    message = entry.get("message")
    return TestCase(
        name=name,
        classname=classname,
        id=case_id(classname, name),
        outcome=_JSON_OUTCOME[outcome],
        duration_s=as_seconds(entry.get("time")),
        message=clip(message.strip()) if isinstance(message, str) else None,
    )


def _from_text(text: str) -> ParsedReport:
    summaries = _SUMMARY.findall(text)
    if not summaries:
        raise ReportUnreadable("no minitest summary line")
    runs, _assertions, failed, errored, skipped = (int(n) for n in summaries[-1])
    return _report(runs, failed, errored, skipped, _text_cases(text))


def _report(runs: int, failed: int, errored: int, skipped: int, cases: list[TestCase]) -> ParsedReport:
    passed = runs - failed - errored - skipped
    if passed < 0:
        raise ReportUnreadable("more failures, errors and skips than runs")
    return ParsedReport(
        framework=FRAMEWORK,
        tests_passed=passed,
        tests_failed=failed,
        tests_skipped=skipped,
        tests_errored=errored,
        cases=cases,
    )


def _text_cases(text: str) -> list[TestCase]:
    """The failures and errors minitest's text output lists, in one pass over its lines."""
    cases: list[TestCase] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines) - 1 and len(cases) < MAX_CASES:
        head = _PROBLEM_HEAD.fullmatch(lines[i])
        named = _case_name(lines[i + 1]) if head else None
        if head is None or named is None:
            i += 1
            continue
        end = i + 2
        while end < len(lines) and lines[end] and end - i < MAX_MESSAGE_LINES:
            if _PROBLEM_HEAD.fullmatch(lines[end]):
                break
            end += 1
        classname, name = named
        message = "\n".join(lines[i + 2 : end])
        cases.append(
            TestCase(
                name=name,
                classname=classname,
                id=case_id(classname, name),
                outcome=_TEXT_OUTCOME[head.group(1)],
                message=clip(message.strip()),
            )
        )
        i = end
    return cases


def _case_name(line: str) -> tuple[str, str] | None:
    """`Class#method [file:line]:` → (Class, method), by plain string operations (no backtracking)."""
    if not line.endswith(":"):
        return None
    line = line[:-1]
    if line.endswith("]") and " [" in line:
        line = line[: line.rindex(" [")]
    classname, hash_sign, name = line.partition("#")
    if not hash_sign or not classname or not name:
        return None
    return classname, name
