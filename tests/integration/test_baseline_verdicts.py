"""Verdicts graded against the project's own baseline, through the in-process pipeline (real engine).

The project has a pre-existing failure, a test that always fails, and a flaky one (fails once per
sandbox); proposals fix, break, add and hide tests, with same-size edits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.baselines import MemoryBaselineCache
from sigma_exec.pipeline import Proposal, ProposalOutcome, run_pipeline

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = """from calc import add, mul, sub


def test_add():
    assert add(1, 2) == 3


def test_sub():
    assert sub(3, 1) == 2


def test_mul():
    assert mul(2, 3) == 6


def test_legacy():
    assert False, "known to fail"
"""
FLAKY = """import os


def test_flaky():
    marker = "/tmp/flaky-once"
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise AssertionError("fails the first time in a sandbox")
"""
FIX_SUB = {"filepath": "calc.py", "content": CALC.replace("return a + b\n\n\ndef mul", "return a - b\n\n\ndef mul")}
BREAK_MUL = {"filepath": "calc.py", "content": FIX_SUB["content"].replace("a * b", "a + b")}
NEW_TESTS = {
    "filepath": "tests/test_new.py",
    "content": "def test_new_pass():\n    assert True\n\n\ndef test_new_fail():\n    assert 1 == 2\n",
}
T = "tests/test_calc.py::"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("baseline")
    (root / "calc.py").write_text(CALC)
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(TESTS)
    (root / "tests" / "test_flaky.py").write_text(FLAKY)
    return root


@pytest.fixture
def run(executor: DockerExecutor, workspace: Path) -> Iterator[Any]:
    projects: list[str] = []
    cache = MemoryBaselineCache()

    def go(changes: list[dict[str, Any]], target_tests: list[str] | None = None, **settings: Any) -> ProposalOutcome:
        projects.append(f"t-{uuid.uuid4().hex[:10]}")
        proposal = Proposal(
            proposal_id=f"bl-{uuid.uuid4().hex[:8]}",
            project_id=projects[-1],
            workspace=str(workspace),
            language="python",
            changes=changes,
            target_tests=target_tests or [],
        )
        merged = {"SIGMA_NODE": "test-node", "AUTO_BUILD": False, **settings}
        return run_pipeline(executor, proposal, Settings(**merged), baselines=cache)

    yield go
    for pid in projects:
        executor.cleanup_project(pid)


def test_transitions_name_each_test_and_the_policies_grade_them(run: Any) -> None:
    outcome = run([BREAK_MUL, NEW_TESTS], VERDICT_POLICY="no-regressions")
    moves = outcome.transitions
    assert moves is not None, outcome
    assert moves.fixed == [f"{T}test_sub"]
    assert moves.broken == [f"{T}test_mul"]
    assert moves.still_failing == [f"{T}test_legacy"]
    assert sorted(moves.new) == ["tests/test_new.py::test_new_fail", "tests/test_new.py::test_new_pass"]
    assert moves.new_failing == ["tests/test_new.py::test_new_fail"]
    assert moves.removed == []
    assert moves.flaky == ["tests/test_flaky.py::test_flaky"]
    assert outcome.baseline is not None and not outcome.baseline.cached
    assert (outcome.baseline.tests_passed, outcome.baseline.tests_failed, outcome.baseline.flaky) == (2, 3, 1)
    assert outcome.status == "rejected"
    text = " | ".join(outcome.reasons)
    assert f"{T}test_mul" in text and "tests/test_new.py::test_new_fail" in text
    assert "test_legacy" not in text and "test_flaky" not in text  # pre-existing and flaky do not count


def test_a_fix_on_the_same_base_reuses_the_baseline_and_passes_no_regressions(run: Any) -> None:
    first = run([FIX_SUB], VERDICT_POLICY="no-regressions")
    assert first.status == "executed", first.reasons
    assert first.baseline is not None and first.baseline.cached is False
    again = run([FIX_SUB], VERDICT_POLICY="no-regressions")
    assert again.baseline is not None and again.baseline.cached is True
    assert [s.detail for s in again.stages if s.name == "baseline"] == ["cached"]
    assert again.transitions == first.transitions
    assert again.status == "executed"
    seed_rule = run([FIX_SUB])  # all-green: the known failure still rejects, naming it
    assert seed_rule.status == "rejected" and f"{T}test_legacy" in seed_rule.reasons[0]
    assert seed_rule.policy == "all-green" and seed_rule.transitions is not None


def test_must_fix_requires_the_target_tests_fixed(run: Any) -> None:
    fixed = run([FIX_SUB], target_tests=[f"{T}test_sub"], VERDICT_POLICY="must-fix")
    assert fixed.status == "executed", fixed.reasons
    unfixed = run([FIX_SUB], target_tests=[f"{T}test_legacy", f"{T}test_gone"], VERDICT_POLICY="must-fix")
    assert unfixed.status == "rejected"
    assert any(f"{T}test_legacy is not fixed (before: failed, after: failed)" in r for r in unfixed.reasons)
    assert any(f"{T}test_gone did not run" in r for r in unfixed.reasons)


def test_tests_that_vanish_without_a_change_to_them_are_flagged(run: Any) -> None:
    hide = {"filepath": "pytest.ini", "content": '[pytest]\naddopts = -k "not test_mul"\n'}
    outcome = run([FIX_SUB, hide], VERDICT_POLICY="no-regressions")
    assert outcome.transitions is not None and outcome.transitions.removed == [f"{T}test_mul"]
    assert outcome.status == "rejected"
    assert any("missing" in r and f"{T}test_mul" in r for r in outcome.reasons), outcome.reasons
    deleted = run([FIX_SUB, {"filepath": "tests/test_flaky.py", "delete": True}], VERDICT_POLICY="no-regressions")
    assert deleted.transitions is not None and deleted.transitions.removed == []  # flaky ones are not "removed"
    assert deleted.status == "executed", deleted.reasons


def test_coverage_may_not_drop_below_the_baseline(run: Any) -> None:
    uncovered = {"filepath": "extra.py", "content": "def unused(x):\n" + "    x += 1\n" * 40 + "    return x\n"}
    outcome = run([FIX_SUB, uncovered], VERDICT_POLICY="no-regressions", COVERAGE_RULE="no-drop")
    assert outcome.status == "rejected"
    assert any(r.startswith("coverage dropped from") for r in outcome.reasons), outcome.reasons


SECOND_RUN_FAILS = """import os


def test_steady():
    assert True


def test_wobbly():
    counter = "/tmp/wobbly-runs"
    runs = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
    with open(counter, "w") as handle:
        handle.write(str(runs))
    assert runs != 2, "fails on the second run in a sandbox only"
"""


def test_a_regression_is_confirmed_by_a_rerun_before_it_rejects(
    executor: DockerExecutor, tmp_path: Path, project_id: str
) -> None:
    (tmp_path / "test_wobbly.py").write_text(SECOND_RUN_FAILS)
    proposal = Proposal(
        proposal_id=f"bl-{uuid.uuid4().hex[:8]}",
        project_id=project_id,
        workspace=str(tmp_path),
        language="python",
        changes=[{"filepath": "notes.txt", "content": "unrelated\n"}],
    )
    settings = Settings(SIGMA_NODE="test-node", AUTO_BUILD=False, VERDICT_POLICY="no-regressions")
    outcome = run_pipeline(executor, proposal, settings, baselines=MemoryBaselineCache())
    # The baseline passes (run 1); after the change it fails (run 2), and passes when re-run (run 3).
    assert outcome.transitions is not None and outcome.transitions.broken == []
    assert outcome.transitions.flaky == ["test_wobbly.py::test_wobbly"]
    assert outcome.tests is not None and outcome.tests["flaky"] == ["test_wobbly.py::test_wobbly"]
    assert outcome.status == "executed", outcome.reasons
    strict = run_pipeline(
        executor,
        proposal.model_copy(update={"proposal_id": f"bl-{uuid.uuid4().hex[:8]}"}),
        settings.model_copy(update={"RERUN_FAILED": "never"}),
        baselines=MemoryBaselineCache(),
    )
    assert strict.transitions is not None and strict.transitions.broken == ["test_wobbly.py::test_wobbly"]
    assert strict.status == "rejected"
