"""JUnit XML: pytest --junitxml, Maven Surefire TEST-*.xml, JUnit Platform console launcher reports.

sigma-exec's own Java steps record a build that failed before any test ran (javac, Maven) as one
errored case whose `<error type="sigma-exec.BuildFailure">` holds the compiler's output; that
output also becomes the report's `error`. pytest records a module (or conftest) it could not import
as an errored case with `<error message="collection failure">`; its exception line becomes the
case's message and, named with the module, the report's `error`.

Java cases are identified as `pkg.Class$Nested#method` plus the report's invocation suffix, which is
what Surefire's `-Dtest=` and the console launcher's `--select-method` take once the suffix is cut:
Surefire `demo.CalcTest#adds{int}[1]`, the console launcher `demo.CalcTest#adds(int, java.lang.String)[1]`
(its legacy names give simple parameter types, `adds(int, String)[1]`, which `--select-method` cannot
load: the fully qualified ones come from the `unique-id:` line the launcher writes into `<system-out>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from sigma_exec.models import CaseOutcome, ParsedReport, TestCase
from sigma_exec.reports._common import (
    ERROR_CHARS,
    MAX_CASES,
    ReportUnreadable,
    as_seconds,
    clip,
    decode,
    parse_xml,
)
from sigma_exec.reports.pytest_console import collection_error, collection_reason

FRAMEWORK = "junit"
BUILD_FAILURE = "sigma-exec.BuildFailure"
COLLECTION_FAILURE = "collection failure"  # pytest's message for a module it could not collect
_OUTCOME_TAGS = (
    ("failure", CaseOutcome.FAILED),
    ("error", CaseOutcome.ERRORED),
    ("skipped", CaseOutcome.SKIPPED),
)


@dataclass
class _Tally:
    counts: dict[CaseOutcome, int] = field(default_factory=lambda: dict.fromkeys(CaseOutcome, 0))
    cases: list[TestCase] = field(default_factory=list)
    build_failures: list[str] = field(default_factory=list)
    collection_failures: list[tuple[str, str | None]] = field(default_factory=list)

    def add_case(self, case: TestCase) -> None:
        self.counts[case.outcome] += 1
        if len(self.cases) < MAX_CASES:
            self.cases.append(case)


def parse(data: bytes) -> ParsedReport:
    """Read the counts and cases of a JUnit XML report."""
    root = parse_xml(decode(data))
    if root.tag not in ("testsuites", "testsuite"):
        raise ReportUnreadable(f"root element is <{root.tag}>, not <testsuites> or <testsuite>")
    tally = _Tally()
    for element in root.iter("testcase"):
        tally.add_case(_case(element))
        _note_failures(tally, element)
    with_cases = _holding_cases(root)
    for suite in root.iter("testsuite"):
        if suite.find("testsuite") is None and suite not in with_cases:
            _add_suite_attributes(tally, suite)
    return ParsedReport(
        framework=FRAMEWORK,
        tests_passed=tally.counts[CaseOutcome.PASSED],
        tests_failed=tally.counts[CaseOutcome.FAILED],
        tests_skipped=tally.counts[CaseOutcome.SKIPPED],
        tests_errored=tally.counts[CaseOutcome.ERRORED],
        cases=tally.cases,
        error=_error(tally),
    )


def _holding_cases(root: Element) -> set[Element]:
    """Elements with a <testcase> below them, in one pass: each case marks its ancestors up to the first
    one already marked, so the whole walk is linear however deep suites nest."""
    parent = {child: node for node in root.iter() for child in node}
    marked: set[Element] = set()
    for case in root.iter("testcase"):
        node = parent.get(case)
        while node is not None and node not in marked:
            marked.add(node)
            node = parent.get(node)
    return marked


def _note_failures(tally: _Tally, element: Element) -> None:
    error = element.find("error")
    if error is None:
        return
    if error.get("type") == BUILD_FAILURE:
        tally.build_failures.append((error.text or "").strip())
    elif error.get("message") == COLLECTION_FAILURE and len(tally.collection_failures) < MAX_CASES:
        where = ".".join(part for part in (element.get("classname"), element.get("name")) if part)
        tally.collection_failures.append(collection_error(where or "test session", error.text or ""))


def _error(tally: _Tally) -> str | None:
    if tally.build_failures:
        return clip("build failed:\n" + "\n".join(tally.build_failures), ERROR_CHARS)
    if tally.collection_failures:
        return collection_reason(tally.collection_failures)
    return None


def _case(element: Element) -> TestCase:
    outcome, message = CaseOutcome.PASSED, None
    for tag, tag_outcome in _OUTCOME_TAGS:
        child = element.find(tag)
        if child is not None:
            outcome, message = tag_outcome, _message(child)
            break
    name, classname = element.get("name", ""), element.get("classname", "")
    return TestCase(
        name=name,
        classname=classname,
        id=case_id(element.get("file"), classname, name, unique_id=_launcher_unique_id(element)),
        outcome=outcome,
        duration_s=as_seconds(element.get("time")),
        message=message,
    )


def case_id(file: str | None, classname: str, name: str, *, unique_id: str | None = None) -> str:
    """The case's id: a pytest node id when the report names a Python file (pytest's xunit1 family), else
    JUnit's `pkg.Class#method` (what Surefire's -Dtest= and the console launcher select), the method's
    parameter types fully qualified when the console launcher's `unique_id` gives them."""
    if file and file.endswith(".py"):
        module = file[: -len(".py")].replace("/", ".")
        inner = classname[len(module) + 1 :].split(".") if classname.startswith(module + ".") else []
        return "::".join([file, *inner, name])
    return f"{classname}#{_jupiter_method(name, unique_id)}" if classname else name


# The console launcher's legacy XML opens each case's <system-out> with "unique-id: [engine:...]/...";
# a Jupiter method's segment is [method:m(types)], [test-template:m(types)] or [test-factory:m(types)].
_UNIQUE_ID_LINE = "unique-id: "
_UNIQUE_ID_SCAN_CHARS = 4000
_JUPITER_METHOD = re.compile(r"/\[(?:method|test-template|test-factory):([^/\[\]()]+)\(([^()]*)\)\]")
_PRIMITIVES = {
    "Z": "boolean",
    "B": "byte",
    "C": "char",
    "S": "short",
    "I": "int",
    "J": "long",
    "F": "float",
    "D": "double",
}


def _launcher_unique_id(element: Element) -> str | None:
    """The JUnit Platform unique id the console launcher wrote for this case, if any."""
    for out in element.findall("system-out"):
        for line in (out.text or "")[:_UNIQUE_ID_SCAN_CHARS].splitlines():
            if line.startswith(_UNIQUE_ID_LINE):
                return line[len(_UNIQUE_ID_LINE) :]
    return None


def _jupiter_method(name: str, unique_id: str | None) -> str:
    """`name` (`m(int, String)[1]`) with the unique id's parameter types (`m(int, java.lang.String)[1]`)."""
    match = _JUPITER_METHOD.search(unique_id) if unique_id else None
    if match is None or not name.startswith(match.group(1) + "("):
        return name
    close = name.find(")")
    if close < 0:
        return name
    types = unquote(match.group(2)).split(",") if match.group(2).strip() else []
    return f"{match.group(1)}({', '.join(_source_type(t.strip()) for t in types)}){name[close + 1 :]}"


def _source_type(name: str) -> str:
    """A JVM array name as Java source writes it (`[I` -> `int[]`, `[Ljava.lang.String;` -> `java.lang.String[]`)."""
    depth = len(name) - len(name.lstrip("["))
    if not depth:
        return name
    element = name[depth:]
    if element.startswith("L") and element.endswith(";"):
        return element[1:-1] + "[]" * depth
    return _PRIMITIVES.get(element, element) + "[]" * depth


def _message(child: Element) -> str | None:
    text = child.get("message") or (child.text or "").strip()
    if text == COLLECTION_FAILURE:
        _, cause = collection_error("", child.text or "")
        return clip(f"{COLLECTION_FAILURE}: {cause}") if cause else text
    return clip(text)


def _add_suite_attributes(tally: _Tally, suite: Element) -> None:
    """Count a suite that lists no test cases from its tests/failures/errors/skipped attributes."""
    tests = _attr_count(suite, "tests")
    failed = _attr_count(suite, "failures")
    errored = _attr_count(suite, "errors")
    skipped = _attr_count(suite, "skipped")
    passed = tests - failed - errored - skipped
    if passed < 0:
        raise ReportUnreadable(f"suite {suite.get('name', '')!r} has more outcomes than tests")
    tally.counts[CaseOutcome.PASSED] += passed
    tally.counts[CaseOutcome.FAILED] += failed
    tally.counts[CaseOutcome.ERRORED] += errored
    tally.counts[CaseOutcome.SKIPPED] += skipped


def _attr_count(suite: Element, name: str) -> int:
    raw = suite.get(name)
    if raw is None:
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        raise ReportUnreadable(f"testsuite {name}={raw[:40]!r} is not a count") from None
    if value < 0:
        raise ReportUnreadable(f"testsuite {name}={value} is negative")
    return value
