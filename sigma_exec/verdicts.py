"""Grading a change against the project's own baseline (pure).

Per-test transitions compare each case's status before and after the change; the verdict policy
says which of them reject a proposal:
- `all-green` (the seed's rule): every test passes, the build passes;
- `no-regressions`: no failure the change brought (`broken`, a `new` test that fails, a test that
  vanished with no change to explain it); pre-existing (`still_failing`) and `flaky` failures do
  not count;
- `must-fix`: as `no-regressions`, and every target test is `fixed` (or `new` and passing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, Field

from sigma_exec.baselines import BaselineRecord
from sigma_exec.models import CaseOutcome, TestResult
from sigma_exec.reruns import FAILING, failing_ids, statuses
from sigma_exec.settings import CoverageRule, VerdictPolicy

MAX_IDS = 500  # per transition list in an outcome
NAMED_IN_REASON = 10


class Transitions(BaseModel):
    """Per-test transitions from the baseline to the run after the change (lists of test ids)."""

    fixed: list[str] = Field(default_factory=list, description="failed or errored → passed")
    broken: list[str] = Field(default_factory=list, description="passed → failed or errored")
    still_failing: list[str] = Field(default_factory=list, description="failed or errored before and after")
    new: list[str] = Field(default_factory=list, description="not in the baseline (their status is in cases)")
    removed: list[str] = Field(default_factory=list, description="in the baseline, not after")
    flaky: list[str] = Field(default_factory=list, description="status differed between runs of the same code")
    new_failing: list[str] = Field(default_factory=list, description="the `new` ones that failed or errored")
    unexplained_removed: list[str] = Field(
        default_factory=list, description="the `removed` ones no deleting or editing change explains"
    )


class ChangedPaths(BaseModel):
    """What the applied batch wrote and deleted (workspace-relative)."""

    written: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)


class VerdictRules(BaseModel):
    policy: VerdictPolicy = VerdictPolicy.ALL_GREEN
    coverage_rule: CoverageRule = CoverageRule.FLOOR
    min_coverage: float = 0.0
    target_tests: list[str] = Field(default_factory=list)


def transitions(baseline: BaselineRecord, after: TestResult, changed: ChangedPaths) -> Transitions:
    """Compare the baseline's statuses with the run after the change."""
    before = baseline.statuses
    now = statuses(after.cases)
    flaky = set(baseline.flaky) | set(after.flaky)
    found = Transitions(flaky=_cap(sorted(flaky & (set(before) | set(now)))))
    fixed, broken, still, new, new_failing = [], [], [], [], []
    for test_id, outcome in now.items():
        if test_id in flaky:
            continue
        if test_id not in before:
            new.append(test_id)
            if outcome in FAILING:
                new_failing.append(test_id)
        elif before[test_id] in FAILING and outcome is CaseOutcome.PASSED:
            fixed.append(test_id)
        elif before[test_id] is CaseOutcome.PASSED and outcome in FAILING:
            broken.append(test_id)
        elif before[test_id] in FAILING and outcome in FAILING:
            still.append(test_id)
    removed = [test_id for test_id in before if test_id not in now and test_id not in flaky]
    return found.model_copy(
        update={
            "fixed": _cap(fixed),
            "broken": _cap(broken),
            "still_failing": _cap(still),
            "new": _cap(new),
            "new_failing": _cap(new_failing),
            "removed": _cap(removed),
            "unexplained_removed": _cap([t for t in removed if not _explained(t, changed)]),
        }
    )


def _cap(ids: list[str]) -> list[str]:
    return ids[:MAX_IDS]


SOURCE_SUFFIXES = (".py", ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".rb")


def file_named_by(test_id: str) -> str | None:
    """The workspace file a test id names, when its format names one (pytest, jest and RSpec ids)."""
    if "::" in test_id:
        head = test_id.split("::", 1)[0]
    elif test_id.startswith("./"):
        head = test_id.split("[", 1)[0]
    else:
        return None
    head = head.removeprefix("./")
    return head if head.endswith(SOURCE_SUFFIXES) else None  # a Go import path is no workspace file


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _explained(test_id: str, changed: ChangedPaths) -> bool:
    """A test may vanish when the change deleted or edited its file.

    Ids that name no file: a Go test by a written `_test.go` file, a JUnit or minitest class by a written
    file named after it (`CalcTest.java`, `calc_test.rb`); any deletion explains them.
    """
    file = file_named_by(test_id)
    if file is not None:
        return file in changed.written or any(file == d or file.startswith(d + "/") for d in changed.deleted)
    if changed.deleted:
        return True
    if "::" in test_id:  # go: importpath::TestName
        return any(p.endswith("_test.go") for p in changed.written)
    klass = test_id.split("#", 1)[0].rsplit(".", 1)[-1].split("$", 1)[0]
    stems = {klass, _snake(klass)}
    return any(p.rsplit("/", 1)[-1].rsplit(".", 1)[0] in stems for p in changed.written)


def _named(ids: Iterable[str]) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:NAMED_IN_REASON])
    return shown + (f" and {len(ids) - NAMED_IN_REASON} more" if len(ids) > NAMED_IN_REASON else "")


def grade_tests(
    after: TestResult,
    baseline: BaselineRecord | None,
    found: Transitions | None,
    rules: VerdictRules,
    *,
    timeout_s: int,
) -> list[str]:
    """Why the test stage rejects the proposal under `rules` (empty: it does not)."""
    if after.timed_out:
        return [f"tests timed out after {timeout_s}s"]
    if after.report_disputed:  # its cases grade nothing: the report is not what the runner found
        return [f"the test report cannot be trusted: {after.report_disputed}"]
    graded = rules.policy is not VerdictPolicy.ALL_GREEN
    if not graded or found is None or baseline is None or not baseline.usable or not after.cases:
        reasons = _all_green(after)
        if graded and reasons:
            reasons.append(_why_not_graded(after, baseline))
        if graded and rules.policy is VerdictPolicy.MUST_FIX and found is None and rules.target_tests:
            reasons.append(f"target tests cannot be checked without a baseline: {_named(rules.target_tests)}")
    else:
        reasons = _regressions(after, found)
        if rules.policy is VerdictPolicy.MUST_FIX:
            reasons += _targets(rules.target_tests, baseline, after, found)
    if found is not None and found.unexplained_removed:
        reasons.append(
            "tests the baseline ran are missing and no change deletes or edits them: "
            + _named(found.unexplained_removed)
        )
    return reasons + _coverage(after, baseline, rules)


def _all_green(after: TestResult) -> list[str]:
    if after.success:
        return []
    failed = (after.tests_failed or 0) + (after.tests_errored or 0)
    if after.tests_passed == 0 and after.tests_failed == 0:  # counted, and none ran
        return [f"no test ran ({failed} errored): {after.error or 'see output'}"]
    names = failing_ids(after)
    named = f" [{_named(names)}]" if names else ""
    return [f"tests failed ({failed} failed or errored){named}: {after.error or 'see output'}"]


def _why_not_graded(after: TestResult, baseline: BaselineRecord | None) -> str:
    if baseline is None:
        return "no baseline was run, so the failures are judged as they are"
    if not baseline.usable:
        return f"the baseline named no test case ({baseline.error or 'no report'}), so failures count as they are"
    return "the run after the change named no test case, so pre-existing failures cannot be told apart"


def _regressions(after: TestResult, found: Transitions) -> list[str]:
    reasons = []
    if after.tests_passed == 0 and after.tests_failed == 0 and not after.success:
        reasons.append(f"no test ran: {after.error or 'see output'}")
    if found.broken:
        reasons.append(f"tests broken by the change (passed before): {_named(found.broken)}")
    if found.new_failing:
        reasons.append(f"new tests fail: {_named(found.new_failing)}")
    if not reasons and after.exit_code not in (0, None) and not (failing_ids(after) or found.still_failing):
        reasons.append(f"the test runner failed with no failing test to explain it: {after.error or 'see output'}")
    return reasons


def _targets(targets: list[str], baseline: BaselineRecord, after: TestResult, found: Transitions) -> list[str]:
    now = statuses(after.cases)
    reasons = []
    for target in targets:
        if target in found.fixed or (target in found.new and now.get(target) is CaseOutcome.PASSED):
            continue
        before = baseline.statuses.get(target)
        if target not in now:
            reasons.append(f"target test {target} did not run")
        elif target in found.flaky:
            reasons.append(f"target test {target} is flaky")
        else:
            was = before.value if before else "absent"
            reasons.append(f"target test {target} is not fixed (before: {was}, after: {now[target].value})")
    return reasons


def _coverage(after: TestResult, baseline: BaselineRecord | None, rules: VerdictRules) -> list[str]:
    coverage = after.coverage_percent
    if rules.coverage_rule is CoverageRule.NO_DROP and baseline is not None and baseline.coverage_percent is not None:
        if coverage is None:
            return [f"coverage unknown; the baseline's was {baseline.coverage_percent}%"]
        if coverage < baseline.coverage_percent:
            return [f"coverage dropped from {baseline.coverage_percent}% to {coverage}%"]
        return []
    if rules.min_coverage <= 0:
        return []
    if coverage is None:
        return [f"coverage unknown; MIN_TEST_COVERAGE is {rules.min_coverage}%"]
    if coverage < rules.min_coverage:
        return [f"coverage {coverage}% is below the minimum of {rules.min_coverage}%"]
    return []
