"""Go: the event stream of `go test -json`, possibly mixed with plain lines (compiler errors, FAIL lines)."""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sigma_exec.models import CaseOutcome, ParsedReport, TestCase
from sigma_exec.reports._common import (
    ERROR_CHARS,
    MAX_CASES,
    ReportUnreadable,
    as_seconds,
    clip,
    decode,
)

FRAMEWORK = "gotest"
_TERMINAL = {"pass": CaseOutcome.PASSED, "fail": CaseOutcome.FAILED, "skip": CaseOutcome.SKIPPED}
_FAIL_LINE = re.compile(r"^FAIL\s+(\S+)\s+\[(?:build|setup) failed\]")
# Before Go 1.24, a package that cannot be loaded (missing module offline, bad go.mod, inconsistent
# vendoring) stops `go test` before any event, leaving only the go command's or compiler's message.
_GO_COMMAND_ERROR = re.compile(r"^(?:go: |[^\s:]+\.go:\d+:\d+: )")
_TEST_LINES = 20
_PACKAGE_LINES = 40
_TEXT_LINES = 400
_LINE_CHARS = 500


@dataclass
class _Stream:
    results: dict[tuple[str, str], tuple[CaseOutcome, float | None]] = field(default_factory=dict)
    test_output: dict[tuple[str, str], deque[str]] = field(default_factory=dict)
    package_output: dict[str, deque[str]] = field(default_factory=dict)
    failed_packages: dict[str, None] = field(default_factory=dict)  # ordered set
    text: list[str] = field(default_factory=list)  # plain lines and build output
    events: int = 0

    def add_text(self, line: str) -> None:
        if len(self.text) < _TEXT_LINES and line.strip():
            self.text.append(line[:_LINE_CHARS])


def parse(data: bytes) -> ParsedReport:
    """Read the counts, cases and build failures of a `go test -json` stream."""
    stream = _Stream()
    for line in decode(data).splitlines():
        _feed(stream, line)
    if not stream.events and not stream.failed_packages:
        if any(_GO_COMMAND_ERROR.match(line) for line in stream.text):
            return _setup_failure(stream)
        raise ReportUnreadable("no go test events")
    errored = _errored_packages(stream)
    counts = dict.fromkeys(_TERMINAL.values(), 0)
    for outcome, _elapsed in stream.results.values():
        counts[outcome] += 1
    return ParsedReport(
        framework=FRAMEWORK,
        tests_passed=counts[CaseOutcome.PASSED],
        tests_failed=counts[CaseOutcome.FAILED],
        tests_skipped=counts[CaseOutcome.SKIPPED],
        tests_errored=len(errored),
        cases=_cases(stream),
        error=_error_text(stream, errored) if errored else None,
    )


def _setup_failure(stream: _Stream) -> ParsedReport:
    """Return the run as one errored unit: the go command failed before it could test any package."""
    message = clip("go test could not load the packages:\n" + "\n".join(stream.text), ERROR_CHARS)
    return ParsedReport(
        framework=FRAMEWORK, tests_passed=0, tests_failed=0, tests_skipped=0, tests_errored=1, error=message
    )


def _feed(stream: _Stream, line: str) -> None:
    event = _event(line)
    if event is None:
        stream.add_text(line)
        match = _FAIL_LINE.match(line)
        if match:
            stream.failed_packages[match[1]] = None
        return
    stream.events += 1
    action, output = event["Action"], event.get("Output")
    if action == "build-output":
        stream.add_text((output or "").rstrip("\n"))
    elif "Test" in event:
        _feed_test(stream, event)
    elif action in ("output", "fail"):
        package = event.get("Package", "")
        if output is not None:
            _lines(stream.package_output, package, _PACKAGE_LINES).append(output.rstrip("\n")[:_LINE_CHARS])
        if action == "fail":
            stream.failed_packages[package] = None


def _feed_test(stream: _Stream, event: dict[str, Any]) -> None:
    key = (event.get("Package", ""), event["Test"])
    output = event.get("Output")
    if output is not None and not output.startswith("=== "):
        _lines(stream.test_output, key, _TEST_LINES).append(output.rstrip("\n")[:_LINE_CHARS])
    outcome = _TERMINAL.get(event["Action"])
    if outcome is not None:
        stream.results[key] = (outcome, as_seconds(event.get("Elapsed")))


def _event(line: str) -> dict[str, Any] | None:
    """Return the test2json event on `line`, or None when the line is not one."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("Action"), str):
        return None
    if any(key in event and not isinstance(event[key], str) for key in ("Package", "Test", "Output")):
        return None
    return event


def _lines(store: dict[Any, deque[str]], key: Any, size: int) -> deque[str]:
    if key not in store:
        store[key] = deque(maxlen=size)
    return store[key]


def _errored_packages(stream: _Stream) -> list[str]:
    """Return packages that failed with no failing test of their own: build, setup or TestMain failures."""
    with_failed_tests = {pkg for (pkg, _), (outcome, _) in stream.results.items() if outcome is CaseOutcome.FAILED}
    return [pkg for pkg in stream.failed_packages if pkg not in with_failed_tests]


def _error_text(stream: _Stream, errored: list[str]) -> str | None:
    lines = list(stream.text)
    for package in errored:
        lines.extend(line for line in stream.package_output.get(package, ()) if line.strip())
    return clip("\n".join(lines), ERROR_CHARS)


def _cases(stream: _Stream) -> list[TestCase]:
    cases = []
    for (package, test), (outcome, elapsed) in list(stream.results.items())[:MAX_CASES]:
        output = stream.test_output.get((package, test))
        message = clip("\n".join(output)) if output and outcome is CaseOutcome.FAILED else None
        cases.append(
            TestCase(
                name=test,
                classname=package,
                id=case_id(package, test),
                outcome=outcome,
                duration_s=elapsed,
                message=message,
            )
        )
    return cases


def case_id(package: str, test: str) -> str:
    """The case's id, `importpath::TestName/subtest`: the package as go test -json names it (what
    go-rerun.sh maps back to a directory) and the test as go prints it (subtest names rewritten, e.g.
    spaces to `_`, a repeated name suffixed `#01`), which `-run` matches level by level."""
    return f"{package}::{test}" if package else test
