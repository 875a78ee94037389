"""The ThinkWorker example maps sigma-exec verdicts onto proposals, as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, SAMPLE

sys.path.insert(0, str(ROOT / "examples"))
from thinkworker import AgentProposal, ProposalState, ThinkWorker


def test_the_example_runs_the_sample_proposal_and_reports_it_executed() -> None:
    env = {"CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "CELERY_RESULT_BACKEND": "redis://127.0.0.1:1/0"}
    import os

    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "thinkworker.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(in-process): executed" in proc.stdout and "passed 5, failed 0" in proc.stdout


def test_a_proposal_without_the_fix_is_rejected_with_feedback() -> None:
    proposal = AgentProposal(project_id="tw-test", workspace=str(SAMPLE), language="python", changes=[])
    done = ThinkWorker(use_queue=False)._execute_proposal(proposal)
    assert done.state == ProposalState.REJECTED
    assert any("tests failed" in line for line in done.feedback)


def test_a_traversal_change_is_rejected_not_crashed() -> None:
    changes = [*json.loads((SAMPLE.parent / "sample_changes.json").read_text()), {"filepath": "../x", "content": ""}]
    done = ThinkWorker(use_queue=False)._execute_proposal(
        AgentProposal(project_id="tw-test", workspace=str(SAMPLE), language="python", changes=changes)
    )
    assert done.state == ProposalState.REJECTED and "'..'" in done.feedback[0]


def test_the_agent_hears_which_tests_its_change_broke_and_which_failed_before() -> None:
    broken = [{"filepath": "calc.py", "content": (SAMPLE / "calc.py").read_text().replace("a + b", "a * b")}]
    done = ThinkWorker(use_queue=False)._execute_proposal(
        AgentProposal(project_id="tw-test", workspace=str(SAMPLE), language="python", changes=broken)
    )
    assert done.state == ProposalState.REJECTED
    assert "tests your change broke (they passed before it): tests/test_calc.py::test_add" in done.feedback
    assert any(line.startswith("tests that already failed before your change") for line in done.feedback)
