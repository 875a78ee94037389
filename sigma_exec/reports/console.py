"""What a test runner printed about its run: its summary line and the cases it named as failing (pure).

The exec's output is captured by the host while the runner prints it, so an exit hook of the code
under test (`atexit`, `at_exit`, `process.on('exit')`, a JVM shutdown hook) can rewrite the report
file after the fact but cannot take back what the runner already printed. `crosscheck` compares the
two. Formats read, one per framework:

- pytest: `4 failed, 4 passed, 1 xpassed, 3 errors in 0.06s` (bare or between `=`), and the short
  summary's `FAILED <node id> - msg` / `ERROR <node id> - msg` lines;
- jest: `Tests:       1 failed, 3 passed, 4 total`; Vitest `Tests  1 failed | 1 passed (2)`;
  sigma-exec's Mocha reporter `1 passing, 1 failing, 0 pending`;
- go test (as go-show.sh prints the event stream while it runs): `--- FAIL: TestX (0.00s)` lines,
  indented four spaces per subtest level;
- RSpec `6 examples, 1 failure, 2 pending`; minitest `5 runs, 4 assertions, 1 failures, 0 errors,
  1 skips` and the `Class#method [file:line]:` line under each `1) Failure:` / `2) Error:`;
- Maven Surefire's per-module `Tests run: 5, Failures: 1, Errors: 0, Skipped: 1`; the JUnit console
  launcher's `[ 1 tests failed ]` and `[ 3 tests successful ]`.

Only `str` methods and anchored regular expressions without nested quantifiers run over the text; at
most SCAN_CHARS are read and lines over LINE_CHARS are skipped, so a flood costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

SCAN_CHARS = 8_000_000
LINE_CHARS = 2000
MAX_NAMED = 2000


class Match(StrEnum):
    """How a failing case named in the output is found among the report's ids."""

    EXACT = "exact"
    PREFIX = "prefix"  # the printed id was cut where it is ambiguous: a report id starting with it
    SUFFIX = "suffix"  # the output names the test but not its package: a report id ending with it


@dataclass(frozen=True)
class NamedFailure:
    """A case the runner printed as failing, and where in the report to look for it."""

    text: str
    match: Match = Match.EXACT
    scope: str = ""  # a report with no id starting with this (another file, class) says nothing of it


@dataclass
class ConsoleSummary:
    """What the runner printed about its run (only what it printed; None where it printed nothing)."""

    failing: int | None = None  # failed + errored, as the runner's summary counted them
    passing: int | None = None  # passed, where the summary bounds it
    line: str = ""  # the summary line `failing` comes from
    failing_line: str = ""  # a summary line that reports failures (any, even an earlier one)
    named: list[NamedFailure] = field(default_factory=list)

    def name(self, failure: NamedFailure) -> None:
        if len(self.named) < MAX_NAMED:
            self.named.append(failure)

    @property
    def found(self) -> bool:
        return self.failing is not None or bool(self.named)


def lines_of(output: str) -> Iterator[str]:
    """The output's lines (at most SCAN_CHARS of it), those over LINE_CHARS left out."""
    for line in output[:SCAN_CHARS].splitlines():
        if len(line) <= LINE_CHARS:
            yield line


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 10 else None


def _word_counts(parts: list[str]) -> dict[str, int] | None:
    """{"failed": 1, ...} from ["1 failed", ...]; None when a part is not "<count> <words>"."""
    counts: dict[str, int] = {}
    for part in parts:
        number, _, word = part.strip().partition(" ")
        value = _count(number)
        if value is None or not word or not all(ch.isalpha() or ch == " " for ch in word):
            return None
        counts[word] = counts.get(word, 0) + value
    return counts


# ---- pytest ----------------------------------------------------------------------------------------
_PYTEST_WORDS = frozenset(
    {"failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "error", "errors", "warning", "warnings"}
)


def _pytest_counts(line: str) -> dict[str, int] | None:
    """The counts of pytest's final line, `1 failed, 2 passed in 0.12s` (`=` borders stripped)."""
    text = line.strip()
    if text.startswith("=") and text.endswith("="):
        text = text.strip("=").strip()
    left, found, right = text.rpartition(" in ")
    if not found or not right[:1].isdigit() or "s" not in right:
        return None
    if left == "no tests ran":
        return {}
    counts = _word_counts(left.split(", "))
    if not counts or not any(word in _PYTEST_WORDS or word.endswith(" passed") for word in counts):
        return None
    return counts


def _pytest_failing(counts: dict[str, int]) -> int:
    return counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)


def _pytest_named(line: str) -> NamedFailure | None:
    """The node id of a short-summary line `FAILED tests/x.py::test_a[1] - AssertionError`."""
    kind, _, rest = line.partition(" ")
    if kind not in ("FAILED", "ERROR") or "::" not in rest:
        return None
    node, cut, _message = rest.partition(" - ")
    node = node.strip()
    if not node or " " in node.partition("[")[0]:
        return None
    scope = node.partition("::")[0] + "::"
    # A parameter id may itself hold " - ": when the brackets do not close, the id was cut there.
    ambiguous = bool(cut) and node.count("[") > node.count("]")
    return NamedFailure(node, Match.PREFIX if ambiguous else Match.EXACT, scope)


def pytest_summary(output: str) -> ConsoleSummary:
    summary = ConsoleSummary()
    for line in lines_of(output):
        named = _pytest_named(line) if line.startswith(("FAILED ", "ERROR ")) else None
        if named is not None:
            summary.name(named)
            continue
        counts = _pytest_counts(line)
        if counts is None:
            continue
        # The last summary is pytest's own: one printed earlier came from a nested run in captured output.
        summary.failing, summary.line = _pytest_failing(counts), line.strip()
        summary.passing = sum(n for word, n in counts.items() if word.endswith("passed"))
        if summary.failing:
            summary.failing_line = summary.failing_line or summary.line
    return summary


# ---- jest, vitest, mocha -----------------------------------------------------------------------------
_VITEST_TOTAL = re.compile(r"\(\d{1,9}\)")
_MOCHA = re.compile(r"(\d{1,9}) passing, (\d{1,9}) failing, (\d{1,9}) pending")


def _jest_counts(line: str) -> dict[str, int] | None:
    if line.startswith("Tests:"):  # jest
        return _word_counts(line[len("Tests:") :].split(","))
    text = line.strip()
    if text.startswith("Tests ") and text.endswith(")"):  # vitest
        body, _, total = text[len("Tests ") :].rpartition(" ")
        return _word_counts(body.split("|")) if _VITEST_TOTAL.fullmatch(total) else None
    mocha = _MOCHA.fullmatch(text)
    if mocha:
        return {"passed": int(mocha[1]), "failed": int(mocha[2])}
    return None


def jest_summary(output: str) -> ConsoleSummary:
    """Jest prints one summary; a Vitest re-run one per group of names, merged into one report."""
    summary = ConsoleSummary()
    for line in lines_of(output):
        counts = _jest_counts(line)
        if counts is None or ("failed" not in counts and "passed" not in counts):
            continue
        failed = counts.get("failed", 0)
        summary.passing = (summary.passing or 0) + counts.get("passed", 0)
        if summary.failing is None or failed >= summary.failing:
            summary.failing, summary.line = failed, line.strip()
        if failed:
            summary.failing_line = summary.failing_line or line.strip()
    return summary


# ---- go test -------------------------------------------------------------------------------------------
_GO_FAIL = "--- FAIL: "


def _go_failed_name(line: str) -> str | None:
    """`TestX/sub` of `    --- FAIL: TestX/sub (0.00s)`, indented four spaces per subtest level (a test's
    own log lines, indented otherwise, are not read)."""
    body = line.lstrip(" ")
    if not body.startswith(_GO_FAIL):
        return None
    name = body[len(_GO_FAIL) :].partition(" ")[0]
    if not name or len(line) - len(body) != 4 * name.count("/"):
        return None
    return name


def go_summary(output: str) -> ConsoleSummary:
    summary = ConsoleSummary()
    seen: set[str] = set()
    for line in lines_of(output):
        name = _go_failed_name(line)
        if name is None or name in seen:
            continue
        seen.add(name)
        summary.name(NamedFailure("::" + name, Match.SUFFIX))
        summary.failing_line = summary.failing_line or line.strip()
    if seen:
        summary.failing, summary.line = len(seen), f"{len(seen)} tests printed --- FAIL"
    return summary


# ---- rspec, minitest -----------------------------------------------------------------------------------
_RSPEC = re.compile(
    r"(\d{1,9}) examples?, (\d{1,9}) failures?(?:, (\d{1,9}) pending)?"
    r"(?:, (\d{1,9}) errors? occurred outside of examples)?"
)
_MINITEST = re.compile(
    r"(\d{1,9}) (?:runs?|tests?), \d{1,9} assertions?, (\d{1,9}) failures?, (\d{1,9}) errors?, (\d{1,9}) skips?"
)
_MINITEST_HEAD = re.compile(r" {0,8}\d{1,9}\) (?:Failure|Error):")


def rspec_summary(output: str) -> ConsoleSummary:
    summary = ConsoleSummary()
    for line in lines_of(output):
        found = _RSPEC.fullmatch(line.strip())
        if found is None:
            continue
        examples, failures, pending, outside = (int(n or 0) for n in found.groups())
        summary.failing, summary.line = failures + outside, line.strip()
        summary.passing = max(0, examples - failures - pending)
        if summary.failing:
            summary.failing_line = summary.failing_line or summary.line
    return summary


def _minitest_named(line: str) -> NamedFailure | None:
    """`CalcTest#test_x [/workspace/test/calc_test.rb:19]:` (the line after `1) Failure:`)."""
    if not line.endswith(":"):
        return None
    text = line[:-1]
    if text.endswith("]") and " [" in text:
        text = text[: text.rindex(" [")]
    klass, sign, method = text.partition("#")
    if not sign or not klass or not method or " " in klass or " " in method:
        return None
    return NamedFailure(text, Match.EXACT, klass + "#")


def minitest_summary(output: str) -> ConsoleSummary:
    """One summary line per minitest process (`rake test` may run several): their sum, as the reports merge."""
    summary = ConsoleSummary()
    after_head = False
    for line in lines_of(output):
        if after_head:
            named = _minitest_named(line)
            if named is not None:
                summary.name(named)
        after_head = _MINITEST_HEAD.fullmatch(line) is not None
        found = _MINITEST.search(line)
        if found is None:
            continue
        runs, failures, errors, skips = (int(n) for n in found.groups())
        summary.failing = (summary.failing or 0) + failures + errors
        summary.passing = (summary.passing or 0) + max(0, runs - failures - errors - skips)
        summary.line = found.group(0)
        if failures + errors:
            summary.failing_line = summary.failing_line or summary.line
    return summary


# ---- Maven Surefire, JUnit console launcher --------------------------------------------------------------
_SUREFIRE = re.compile(
    r"\[(?:INFO|ERROR|WARNING)\] Tests run: (\d{1,9}), Failures: (\d{1,9}), Errors: (\d{1,9}), "
    r"Skipped: (\d{1,9})(?:, Flakes: \d{1,9})?"
)
_LAUNCHER = re.compile(r"\[ {0,40}(\d{1,9}) tests (successful|failed) {0,40}\]")


def maven_summary(output: str) -> ConsoleSummary:
    """Surefire's per-module totals (not the per-class lines, which go on with `Time elapsed`)."""
    summary = ConsoleSummary()
    for line in lines_of(output):
        found = _SUREFIRE.fullmatch(line.strip())
        if found is None:
            continue
        run, failures, errors, skipped = (int(n) for n in found.groups())
        if summary.failing is None or failures + errors >= summary.failing:
            summary.failing, summary.line = failures + errors, line.strip()
        summary.passing = (summary.passing or 0) + max(0, run - failures - errors - skipped)
        if failures + errors:
            summary.failing_line = summary.failing_line or line.strip()
    return summary


def launcher_summary(output: str) -> ConsoleSummary:
    summary = ConsoleSummary()
    for line in lines_of(output):
        found = _LAUNCHER.fullmatch(line.strip())
        if found is None:
            continue
        count = int(found[1])
        if found[2] == "successful":
            summary.passing = (summary.passing or 0) + count
            summary.failing = summary.failing or 0
            continue
        if summary.failing is None or count >= summary.failing:
            summary.failing, summary.line = count, line.strip()
        if count:
            summary.failing_line = summary.failing_line or line.strip()
    return summary


READERS: dict[str, Callable[[str], ConsoleSummary]] = {
    "pytest": pytest_summary,
    "jest": jest_summary,
    "gotest": go_summary,
    "rspec": rspec_summary,
    "minitest": minitest_summary,
    "maven": maven_summary,
    "junit-platform": launcher_summary,
}


def read_console(framework: str | None, output: str) -> ConsoleSummary | None:
    """What `framework`'s runner printed about its run; None when it printed no summary we know."""
    reader = READERS.get(framework or "")
    if reader is None:
        return None
    found = reader(output)
    return found if found.found else None


def reports_failure(framework: str | None, line: str) -> bool:
    """True when `line` is one a runner prints about a failure (a summary with failures, a failing case):
    the lines an output cap must never drop, whatever floods around them."""
    if len(line) > LINE_CHARS:
        return False
    found = read_console(framework, line)
    return found is not None and bool(found.failing_line or found.named)
