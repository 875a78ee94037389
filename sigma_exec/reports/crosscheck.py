"""The structured report against what the runner printed and its exit code (pure).

A report file can be rewritten after the runner wrote it (by an exit hook of the code under test, or
a process it left behind), and the exit code forced to 0; what the runner printed was captured by the
host as it was printed and cannot be taken back. So a report that shows fewer failures or more passes
than the runner's own summary, a failing case the runner named that the report shows passing or
lacks, or an exit code of 0 after the runner printed failures, make the run's report untrusted.

Nothing is claimed where the runner printed no summary we know (output cut, a custom test command):
only what was printed is compared, and only in the direction an attacker gains from.
"""

from __future__ import annotations

from bisect import bisect_left

from sigma_exec.models import MAX_TEST_ID_CHARS, CaseOutcome, ParsedReport
from sigma_exec.reports._common import MAX_CASES
from sigma_exec.reports.console import ConsoleSummary, Match, NamedFailure
from sigma_exec.reruns import FAILING

DISAGREE = "the test report and the test output disagree (possible tampering)"
NAMED_SHOWN = 3
MAX_PREFIX_MATCHES = 1000
QUOTE_CHARS = 160


def _quote(line: str) -> str:
    line = line if len(line) <= QUOTE_CHARS else line[: QUOTE_CHARS - 1] + "…"
    return f'"{line}"'


def _has_counts(report: ParsedReport | None) -> bool:
    return report is not None and any(
        n is not None for n in (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)
    )


def disagreement(console: ConsoleSummary | None, report: ParsedReport | None, exit_code: int | None) -> str | None:
    """Why `report` cannot be trusted given what the runner printed and how it exited; None if it can."""
    if console is None:
        return None
    problems = []
    if exit_code == 0 and console.failing_line:
        problems.append(f"the runner exited with code 0 after printing failures ({_quote(console.failing_line)})")
    if report is not None and _has_counts(report):
        problems += _count_problems(console, report)
        problems += _case_problems(console.named, report)
    return f"{DISAGREE}: " + "; ".join(problems) if problems else None


def _count_problems(console: ConsoleSummary, report: ParsedReport) -> list[str]:
    problems = []
    failing = (report.tests_failed or 0) + (report.tests_errored or 0)
    if console.failing is not None and failing < console.failing:
        problems.append(
            f"the output reports {console.failing} failed or errored ({_quote(console.line)}), the report {failing}"
        )
    passed = report.tests_passed or 0
    if console.passing is not None and passed > console.passing:
        problems.append(f"the report has {passed} passed, the output at most {console.passing}")
    return problems


class _Index:
    """The report's case outcomes by id, found by exact id, id prefix and `::name` suffix (no scan per name)."""

    def __init__(self, report: ParsedReport) -> None:
        self.by_id: dict[str, list[CaseOutcome]] = {}
        self.by_name: dict[str, list[CaseOutcome]] = {}
        for case in report.cases:
            self.by_id.setdefault(case.id, []).append(case.outcome)
            self.by_name.setdefault("::" + case.id.rpartition("::")[2], []).append(case.outcome)
        self.ids = sorted(self.by_id)

    def starting_with(self, prefix: str, limit: int = MAX_PREFIX_MATCHES) -> list[str]:
        found: list[str] = []
        at = bisect_left(self.ids, prefix)
        while at < len(self.ids) and len(found) < limit and self.ids[at].startswith(prefix):
            found.append(self.ids[at])
            at += 1
        return found

    def outcomes(self, failure: NamedFailure) -> list[CaseOutcome]:
        if len(failure.text) > MAX_TEST_ID_CHARS:  # the report's id was cut to this length
            cut = failure.text[:MAX_TEST_ID_CHARS]
            return [o for case_id in self.starting_with(cut) for o in self.by_id[case_id]]
        if failure.match is Match.SUFFIX:
            return self.by_name.get(failure.text, [])
        if failure.match is Match.PREFIX:
            return [o for case_id in self.starting_with(failure.text) for o in self.by_id[case_id]]
        return self.by_id.get(failure.text, [])


def _case_problems(named: list[NamedFailure], report: ParsedReport) -> list[str]:
    if not named or not report.cases:
        return []
    index = _Index(report)
    # A report holds at most MAX_CASES cases: beyond that, a case it lacks may simply not have been kept.
    complete = len(report.cases) < MAX_CASES
    passing, missing = [], []
    for failure in named:
        found = index.outcomes(failure)
        if any(outcome in FAILING for outcome in found):
            continue
        if found:
            passing.append(f"{_shown(failure)} ({found[0].value})")
        elif complete and index.starting_with(failure.scope, limit=1):
            missing.append(_shown(failure))
    problems = []
    if passing:
        problems.append("printed as failing, not failing in the report: " + _listed(passing))
    if missing:
        problems.append("printed as failing, missing from the report: " + _listed(missing))
    return problems


def _shown(failure: NamedFailure) -> str:
    return failure.text.removeprefix("::")


def _listed(ids: list[str]) -> str:
    more = f" and {len(ids) - NAMED_SHOWN} more" if len(ids) > NAMED_SHOWN else ""
    return ", ".join(ids[:NAMED_SHOWN]) + more
