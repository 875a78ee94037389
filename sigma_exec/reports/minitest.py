"""Minitest: the plain-text summary line, e.g. `3 runs, 5 assertions, 1 failures, 1 errors, 1 skips`."""

from __future__ import annotations

import re

from sigma_exec.models import CaseOutcome, ParsedReport, TestCase
from sigma_exec.reports._common import MAX_CASES, ReportUnreadable, clip, decode

FRAMEWORK = "minitest"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_SUMMARY = re.compile(
    r"(?<!\d)(\d{1,12}) (?:runs?|tests?), (\d{1,12}) assertions?, (\d{1,12}) failures?, "
    r"(\d{1,12}) errors?, (\d{1,12}) skips?"
)
# "  1) Failure:\nCalcTest#test_x [file.rb:9]:\nExpected: 5\n  Actual: 4\n\n"
_PROBLEM = re.compile(
    r"^ *\d{1,9}\) (Failure|Error):\n([^\n#]+)#([^\n]+?)(?: \[[^\n\]]*\])?:\n(.*?)(?=\n\n|\Z)",
    re.MULTILINE | re.DOTALL,
)
_OUTCOME = {"Failure": CaseOutcome.FAILED, "Error": CaseOutcome.ERRORED}


def parse(data: bytes) -> ParsedReport:
    """Read the counts of the last minitest summary line in `data`, and its failures and errors."""
    text = _ANSI.sub("", decode(data)).replace("\r\n", "\n")
    summaries = _SUMMARY.findall(text)
    if not summaries:
        raise ReportUnreadable("no minitest summary line")
    runs, _assertions, failed, errored, skipped = (int(n) for n in summaries[-1])
    passed = runs - failed - errored - skipped
    if passed < 0:
        raise ReportUnreadable("more failures, errors and skips than runs")
    return ParsedReport(
        framework=FRAMEWORK,
        tests_passed=passed,
        tests_failed=failed,
        tests_skipped=skipped,
        tests_errored=errored,
        cases=_cases(text),
    )


def _cases(text: str) -> list[TestCase]:
    cases = []
    for match in _PROBLEM.finditer(text):
        kind, classname, name, message = match.groups()
        cases.append(TestCase(name=name, classname=classname, outcome=_OUTCOME[kind], message=clip(message.strip())))
        if len(cases) >= MAX_CASES:
            break
    return cases
