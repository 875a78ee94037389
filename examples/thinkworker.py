"""The seed's ThinkWorker `_execute_proposal` pattern, rewritten on sigma-exec.

Run with `make run`'s set-up:  .venv/bin/python examples/thinkworker.py
With a Celery worker running (`celery -A tasks worker`, Redis at CELERY_BROKER_URL) the proposal is
enqueued with `submit_proposal` and awaited; without one it runs the same pipeline in-process.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


class ProposalState(StrEnum):
    PENDING = "pending"
    EXECUTED = "executed"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass
class AgentProposal:
    """What the ThinkWorker's agent proposes for a project."""

    project_id: int
    workspace: str
    language: str
    changes: list[dict[str, Any]]
    target_tests: list[str] = field(default_factory=list)  # for VERDICT_POLICY=must-fix
    id: str = field(default_factory=lambda: f"tw-{uuid.uuid4().hex[:10]}")
    state: ProposalState = ProposalState.PENDING
    feedback: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None


class ThinkWorker:
    """Executes proposals through sigma-exec and maps the verdict onto the proposal."""

    def __init__(self, use_queue: bool | None = None, wait_timeout_s: float = 900) -> None:
        self.use_queue = worker_available() if use_queue is None else use_queue
        self.wait_timeout_s = wait_timeout_s

    def _execute_proposal(self, proposal: AgentProposal) -> AgentProposal:
        from pydantic import ValidationError

        from sigma_exec.errors import InvalidRequestError

        try:
            outcome = self._run(proposal)
        except ValidationError as exc:  # the proposal itself is malformed (e.g. a path with ".."): nothing ran
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            outcome = {"status": "rejected", "reasons": [f"invalid proposal: {p}" for p in problems]}
        except InvalidRequestError as exc:  # over the operator's caps
            outcome = {"status": "rejected", "reasons": [str(exc)]}
        proposal.result = outcome
        status = outcome.get("status")
        if status == "executed":
            proposal.state = ProposalState.EXECUTED
        elif status == "rejected":
            proposal.state = ProposalState.REJECTED
            proposal.feedback = list(outcome.get("reasons") or [outcome.get("error") or "rejected"])
        else:
            proposal.state = ProposalState.FAILED
            proposal.feedback = [outcome.get("error") or "sigma-exec error"]
        proposal.feedback += transition_feedback(outcome)
        return proposal

    def _run(self, proposal: AgentProposal) -> dict[str, Any]:
        if self.use_queue:
            from tasks import submit_proposal

            result = submit_proposal(
                proposal_id=proposal.id,
                project_id=proposal.project_id,
                workspace=proposal.workspace,
                language=proposal.language,
                changes=proposal.changes,
                target_tests=proposal.target_tests,
            )
            return dict(result.get(timeout=self.wait_timeout_s))
        from sigma_exec import DockerExecutor, Settings
        from sigma_exec.pipeline import Proposal, run_pipeline

        settings = Settings()
        spec = Proposal(
            proposal_id=proposal.id,
            project_id=proposal.project_id,
            workspace=proposal.workspace,
            language=proposal.language,
            changes=proposal.changes,
            target_tests=proposal.target_tests,
        )
        return run_pipeline(DockerExecutor(settings), spec, settings).model_dump(mode="json")


def transition_feedback(outcome: dict[str, Any], shown: int = 20) -> list[str]:
    """What the agent should know next: the tests its change broke, and those that failed before it too."""
    moves = outcome.get("transitions") or {}
    lines = []
    for name, what in (
        ("broken", "tests your change broke (they passed before it)"),
        ("new_failing", "new tests that fail"),
        ("still_failing", "tests that already failed before your change (not counted against it)"),
    ):
        ids = list(moves.get(name) or [])
        if ids:
            lines.append(
                f"{what}: {', '.join(ids[:shown])}" + (f" and {len(ids) - shown} more" if len(ids) > shown else "")
            )
    return lines


def worker_available(timeout_s: float = 2.0) -> bool:
    """True when a sigma-exec Celery worker answers a ping."""
    try:
        from tasks import app

        return bool(app.control.ping(timeout=timeout_s))
    except Exception:
        return False


def main() -> int:
    worker = ThinkWorker()
    proposal = AgentProposal(
        project_id=1,
        workspace=str(HERE / "sample_project"),
        language="python",
        changes=json.loads((HERE / "sample_changes.json").read_text()),
    )
    done = worker._execute_proposal(proposal)
    via = "Celery" if worker.use_queue else "in-process"
    tests = (done.result or {}).get("tests") or {}
    print(
        f"proposal {done.id} ({via}): {done.state} — "
        f"passed {tests.get('tests_passed')}, failed {tests.get('tests_failed')}"
    )
    for line in done.feedback:
        print(f"  feedback: {line}")
    return 0 if done.state == ProposalState.EXECUTED else 1


if __name__ == "__main__":
    sys.exit(main())
