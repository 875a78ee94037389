"""Baselines, transitions, re-run selection and verdict policies (pure; fakeredis for the shared cache)."""

from __future__ import annotations

import fakeredis
import pytest

from sigma_exec.baselines import BaselineRecord, MemoryBaselineCache, RedisBaselineCache, baseline_key
from sigma_exec.models import CaseOutcome, TestCase, TestResult
from sigma_exec.pipeline import PipelineState, Proposal, decide
from sigma_exec.policy import ProjectPolicy, effective_settings
from sigma_exec.reports.junit import case_id
from sigma_exec.reruns import MAX_RERUN_CASES, flaky_ids, selectable, selection_file
from sigma_exec.settings import CoverageRule, Settings, VerdictPolicy
from sigma_exec.verdicts import (
    ChangedPaths,
    VerdictRules,
    file_named_by,
    grade_tests,
    transitions,
)

P, F, E, S = CaseOutcome.PASSED, CaseOutcome.FAILED, CaseOutcome.ERRORED, CaseOutcome.SKIPPED


def _result(outcomes: dict[str, CaseOutcome], *, flaky: list[str] | None = None, coverage: float | None = 90.0):
    cases = [TestCase(name=i.rsplit("::", 1)[-1], id=i, outcome=o) for i, o in outcomes.items()]
    failed = sum(o is F for o in outcomes.values())
    errored = sum(o is E for o in outcomes.values())
    return TestResult(
        success=failed + errored == 0,
        tests_passed=sum(o is P for o in outcomes.values()),
        tests_failed=failed,
        tests_skipped=sum(o is S for o in outcomes.values()),
        tests_errored=errored,
        coverage_percent=coverage,
        cases=cases,
        exit_code=0 if failed + errored == 0 else 1,
        flaky=flaky or [],
    )


def _baseline(outcomes: dict[str, CaseOutcome], **kw) -> BaselineRecord:
    return BaselineRecord.from_result("k", _result(outcomes, **kw))


BEFORE = {"t.py::a": P, "t.py::b": F, "t.py::c": F, "t.py::d": P, "t.py::e": E, "t.py::gone": P}


def test_every_transition_is_named() -> None:
    after = _result({"t.py::a": P, "t.py::b": P, "t.py::c": F, "t.py::d": E, "t.py::e": F, "n.py::x": F, "n.py::y": P})
    moves = transitions(_baseline(BEFORE), after, ChangedPaths(written=["t.py"]))
    assert moves.fixed == ["t.py::b"]
    assert moves.broken == ["t.py::d"]
    assert moves.still_failing == ["t.py::c", "t.py::e"]
    assert moves.new == ["n.py::x", "n.py::y"] and moves.new_failing == ["n.py::x"]
    assert moves.removed == ["t.py::gone"] and moves.unexplained_removed == []  # t.py was edited


def test_flaky_tests_leave_every_other_list() -> None:
    base = _baseline({"t.py::a": P, "t.py::f": F}, flaky=["t.py::f"])
    moves = transitions(base, _result({"t.py::a": P, "t.py::f": P, "t.py::g": F}, flaky=["t.py::g"]), ChangedPaths())
    assert moves.flaky == ["t.py::f", "t.py::g"]
    assert moves.fixed == moves.new == moves.new_failing == []


@pytest.mark.parametrize(
    ("test_id", "file"),
    [
        ("tests/test_x.py::TestC::test_a[1::2]", "tests/test_x.py"),
        ("src/a.test.ts::outer inner works", "src/a.test.ts"),
        ("./spec/calc_spec.rb[1:2]", "spec/calc_spec.rb"),
        ("example.com/m/pkg::TestAdd/neg", None),
        ("com.example.CalcTest#adds", None),
        ("CalcTest#test_add", None),
    ],
)
def test_the_file_a_test_id_names(test_id: str, file: str | None) -> None:
    assert file_named_by(test_id) == file


def test_a_vanished_test_is_explained_only_by_a_change_to_its_file() -> None:
    base = _baseline({"tests/t.py::a": P, "tests/u.py::b": P, "pkg.CalcTest#x": P})
    after = _result({"tests/u.py::b": P})
    hidden = transitions(base, after, ChangedPaths(written=["pytest.ini"]))
    assert hidden.unexplained_removed == ["tests/t.py::a", "pkg.CalcTest#x"]
    deleted = transitions(base, after, ChangedPaths(deleted=["tests"]))
    assert deleted.unexplained_removed == []
    java_edit = transitions(base, after, ChangedPaths(written=["src/test/java/pkg/CalcTest.java"]))
    assert java_edit.unexplained_removed == ["tests/t.py::a"]


def _rules(policy: str, **kw) -> VerdictRules:
    return VerdictRules(policy=VerdictPolicy(policy), **kw)


def test_no_regressions_ignores_pre_existing_failures_and_names_the_broken_tests() -> None:
    base = _baseline({"t.py::a": P, "t.py::b": F})
    ok = _result({"t.py::a": P, "t.py::b": F})
    moves = transitions(base, ok, ChangedPaths())
    assert grade_tests(ok, base, moves, _rules("no-regressions"), timeout_s=9) == []
    assert "t.py::b" in grade_tests(ok, base, moves, _rules("all-green"), timeout_s=9)[0]
    bad = _result({"t.py::a": F, "t.py::b": F})
    reasons = grade_tests(bad, base, transitions(base, bad, ChangedPaths()), _rules("no-regressions"), timeout_s=9)
    assert reasons == ["tests broken by the change (passed before): t.py::a"]


def test_must_fix_needs_every_target_fixed_or_new_and_passing() -> None:
    base = _baseline({"t.py::a": F, "t.py::b": F})
    after = _result({"t.py::a": P, "t.py::b": F, "t.py::n": P})
    moves = transitions(base, after, ChangedPaths(written=["t.py"]))
    rules = _rules("must-fix", target_tests=["t.py::a", "t.py::n"])
    assert grade_tests(after, base, moves, rules, timeout_s=9) == []
    rules = _rules("must-fix", target_tests=["t.py::b", "t.py::zz"])
    assert grade_tests(after, base, moves, rules, timeout_s=9) == [
        "target test t.py::b is not fixed (before: failed, after: failed)",
        "target test t.py::zz did not run",
    ]


def test_graded_policies_fall_back_to_the_seed_rule_without_a_usable_baseline() -> None:
    after = _result({"t.py::a": F})
    timed_out = BaselineRecord(key="k", timed_out=True, statuses={"t.py::a": F})
    reasons = grade_tests(after, timed_out, None, _rules("no-regressions"), timeout_s=9)
    assert reasons[0].startswith("tests failed (1 failed or errored) [t.py::a]")
    assert "the baseline named no test case" in reasons[1]


def test_coverage_rules() -> None:
    base = _baseline({"t.py::a": P}, coverage=80.0)
    after = _result({"t.py::a": P}, coverage=79.5)
    moves = transitions(base, after, ChangedPaths())
    no_drop = _rules("no-regressions", coverage_rule=CoverageRule.NO_DROP)
    assert grade_tests(after, base, moves, no_drop, timeout_s=9) == ["coverage dropped from 80.0% to 79.5%"]
    floor = _rules("no-regressions", min_coverage=70.0)
    assert grade_tests(after, base, moves, floor, timeout_s=9) == []


def test_a_time_out_is_the_only_reason_given() -> None:
    after = _result({"t.py::a": F}).model_copy(update={"timed_out": True})
    assert grade_tests(after, None, None, _rules("no-regressions"), timeout_s=9) == ["tests timed out after 9s"]


def test_the_baseline_key_depends_on_content_image_and_command_only() -> None:
    fields = dict(
        workspace_digest="w",
        image_id="i",
        language="python",
        framework="pytest",
        framework_definition="d",
        test_command=None,
        rerun=True,
    )
    key = baseline_key(**fields)
    assert key == baseline_key(**fields)
    for name, other in (("workspace_digest", "w2"), ("image_id", "i2"), ("test_command", "pytest -x")):
        assert baseline_key(**{**fields, name: other}) != key


def test_baselines_are_shared_through_redis_and_a_broken_entry_is_a_miss() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    cache = RedisBaselineCache(client)
    record = _baseline(BEFORE)
    cache.put(record, ttl_s=60)
    assert RedisBaselineCache(fakeredis.FakeRedis(server=server)).get("k") == record  # as another node sees it
    assert 0 < client.ttl("sigma:baseline:k") <= 60
    client.set("sigma:baseline:bad", "{not json")
    assert cache.get("bad") is None and cache.get("absent") is None
    memory = MemoryBaselineCache(entries=1)
    memory.put(record, 60)
    memory.put(record.model_copy(update={"key": "k2"}), 60)
    assert memory.get("k") is None and memory.get("k2") is not None


def test_an_unreachable_redis_is_a_miss_not_an_error() -> None:
    class Down:
        def get(self, name: str) -> None:
            raise ConnectionError("down")

        def set(self, name: str, value: str, ex: int | None = None) -> None:
            raise ConnectionError("down")

    cache = RedisBaselineCache(Down())
    cache.put(_baseline(BEFORE), 60)
    assert cache.get("k") is None


def test_rerun_selection_is_bounded_and_line_safe() -> None:
    ids = ["a::b", "bad\nid", "", "a::b", *[f"t::{i}" for i in range(500)]]
    chosen = selectable(ids)
    assert chosen[0] == "a::b" and "bad\nid" not in chosen and len(chosen) == MAX_RERUN_CASES
    assert selection_file(["x", "y"]) == b"x\ny\n"
    first = _result({"t::a": F, "t::b": F, "t::c": P})
    assert flaky_ids(first, [TestCase(name="a", id="t::a", outcome=P), TestCase(name="b", id="t::b", outcome=F)]) == [
        "t::a"
    ]


def test_pytest_node_ids_from_junit_xunit1() -> None:
    assert (
        case_id("tests/test_x.py", "tests.test_x.TestC.Inner", "test_a[1]")
        == "tests/test_x.py::TestC::Inner::test_a[1]"
    )
    assert case_id("test_x.py", "test_x", "test_b") == "test_x.py::test_b"
    assert case_id(None, "com.example.CalcTest", "adds") == "com.example.CalcTest#adds"


def test_a_project_policy_file_sets_the_verdict_rules() -> None:
    policy = ProjectPolicy.model_validate({"verdict": {"policy": "must-fix", "coverage_rule": "no-drop"}})
    merged = effective_settings(Settings(VERDICT_POLICY="no-regressions", MIN_TEST_COVERAGE=50), policy)
    assert (merged.VERDICT_POLICY, merged.COVERAGE_RULE, merged.MIN_TEST_COVERAGE) == ("must-fix", "no-drop", 50)
    with pytest.raises(ValueError, match="policy"):
        ProjectPolicy.model_validate({"verdict": {"policy": "lenient"}})


def test_decide_carries_transitions_baseline_and_the_policy() -> None:
    base = _baseline({"t.py::a": P})
    after = _result({"t.py::a": F})
    moves = transitions(base, after, ChangedPaths())
    proposal = Proposal(proposal_id="p", project_id=1, workspace="/w", language="python")
    state = PipelineState(
        proposal=proposal,
        tests=after.model_dump(mode="json"),
        transitions=moves,
        baseline=base.summary(cached=True),
        test_reasons=["tests broken by the change (passed before): t.py::a"],
        policy=VerdictPolicy.NO_REGRESSIONS,
    )
    outcome = decide(state, Settings(AUTO_BUILD=False)).model_dump(mode="json")
    assert outcome["status"] == "rejected" and outcome["policy"] == "no-regressions"
    assert outcome["transitions"]["broken"] == ["t.py::a"] and outcome["baseline"]["cached"] is True
    assert outcome["reasons"] == ["tests broken by the change (passed before): t.py::a"]


def test_target_tests_are_bounded_single_lines() -> None:
    with pytest.raises(ValueError, match="target_tests"):
        Proposal(proposal_id="p", project_id=1, workspace="/w", language="python", target_tests=["a\nb"])


def test_a_rerun_only_gets_the_time_its_run_left() -> None:
    from sigma_exec.reruns import MIN_RERUN_SECONDS, time_left

    assert time_left(300, 10.4) == 289
    assert time_left(300, 300 - MIN_RERUN_SECONDS + 0.5) is None


def test_the_verdict_and_transitions_come_first_in_the_outcome_json() -> None:
    import json

    base = _baseline({"t.py::a": P})
    after = _result({"t.py::a": F}).model_copy(update={"output": "x" * 5000})
    proposal = Proposal(proposal_id="p", project_id=1, workspace="/w", language="python")
    state = PipelineState(
        proposal=proposal,
        tests=after.model_dump(mode="json"),
        transitions=transitions(base, after, ChangedPaths()),
        baseline=base.summary(cached=False),
        test_reasons=["tests broken by the change (passed before): t.py::a"],
    )
    text = json.dumps(decide(state, Settings(AUTO_BUILD=False)).model_dump(mode="json"))
    head = text[:1000]  # what a viewer that cuts results (Flower) still shows
    assert '"status": "rejected"' in head and '"broken": ["t.py::a"]' in head and "passed before" in head
