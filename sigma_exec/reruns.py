"""Re-running a run's failing cases to tell flaky from broken (pure).

The ids travel into the sandbox as one file, one id per line, named by `$SIGMA_RERUN_FILE`; each
framework's `rerun_command` turns them into its runner's own selection (pytest node ids, `jest -t`
and paths, `go test -run`, RSpec ids, minitest `-n`, Surefire `-Dtest=`, the JUnit console
launcher's `--select-method`). Ids come from reports that project code wrote: they are bounded
here and only ever reach a runner as data, never as shell text.
"""

from __future__ import annotations

from collections.abc import Iterable

from sigma_exec.models import CaseOutcome, TestCase, TestResult

MAX_RERUN_CASES = 200
MAX_RERUN_BYTES = 64 * 1024
MIN_RERUN_SECONDS = 5
FAILING = frozenset({CaseOutcome.FAILED, CaseOutcome.ERRORED})


def failing_ids(result: TestResult) -> list[str]:
    """The ids of a run's failed or errored cases, in report order, without duplicates."""
    return list(dict.fromkeys(case.id for case in result.cases if case.outcome in FAILING))


def selectable(ids: Iterable[str]) -> list[str]:
    """The ids that can be handed to a runner: one line each, at most MAX_RERUN_CASES and MAX_RERUN_BYTES."""
    chosen: list[str] = []
    used = 0
    for test_id in dict.fromkeys(ids):
        if not test_id or any(ch in test_id for ch in "\n\r\x00"):
            continue
        size = len(test_id.encode()) + 1
        if len(chosen) >= MAX_RERUN_CASES or used + size > MAX_RERUN_BYTES:
            break
        chosen.append(test_id)
        used += size
    return chosen


def selection_file(ids: list[str]) -> bytes:
    """The content of $SIGMA_RERUN_FILE."""
    return "".join(f"{test_id}\n" for test_id in ids).encode()


def statuses(cases: Iterable[TestCase]) -> dict[str, CaseOutcome]:
    """Each id's outcome; a case reported twice keeps its worst outcome (failing over passing)."""
    found: dict[str, CaseOutcome] = {}
    for case in cases:
        if case.id not in found or case.outcome in FAILING:
            found[case.id] = case.outcome
    return found


def flaky_ids(first: TestResult, again: list[TestCase]) -> list[str]:
    """Cases that failed in `first` and passed when re-run on the same code."""
    second = statuses(again)
    return [test_id for test_id in failing_ids(first) if second.get(test_id) is CaseOutcome.PASSED]


def with_rerun(first: TestResult, again: TestResult) -> TestResult:
    """`first` with the re-run's cases and the flaky ids it revealed (the counts stay the first run's).

    A re-run whose report is disputed reveals nothing: no case is flaky on its word, and the run is
    disputed with it (a proposal's code that forges only its re-run must not turn a regression flaky).
    """
    if again.report_disputed:
        disputed = f"in the re-run of the failing cases: {again.report_disputed}"
        return first.model_copy(
            update={
                "rerun_cases": list(again.cases),
                "flaky": [],
                "success": False,
                "report_disputed": first.report_disputed or disputed,
                "error": first.report_disputed or disputed,
            }
        )
    return first.model_copy(update={"rerun_cases": list(again.cases), "flaky": flaky_ids(first, again.cases)})


def time_left(limit_s: int, spent_s: float) -> int | None:
    """Seconds a re-run may take so that a run and its re-run stay within `limit_s`; None when too few are left."""
    left = int(limit_s - spent_s)
    return left if left >= MIN_RERUN_SECONDS else None
