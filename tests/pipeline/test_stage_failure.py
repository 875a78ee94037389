"""A stage that fails cleans up after itself: the stage wrapper on a real sandbox, Redis faked.

The wrapper runs in this process (no worker) so that the failure can be injected exactly where a
real one would surface: inside the stage, after the container exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import fakeredis
import pytest
from pipeline_helpers import SAMPLE_PROJECT, sandboxes_of

from sigma_exec.errors import DockerUnavailableError
from sigma_exec.pipeline import PipelineState, Proposal, Stage, stage_create
from tasks.store import PipelineStore

pytestmark = [pytest.mark.docker]


@dataclass
class Request:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    retries: int = 0


@dataclass
class FakeTask:
    """The parts of a bound Celery task that a stage uses."""

    request: Request = field(default_factory=Request)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    retried: list[dict[str, Any]] = field(default_factory=list)

    def send_event(self, type_: str, **fields: Any) -> None:
        self.events.append((type_, fields))

    def retry(self, exc: Exception, **options: Any) -> Exception:
        """As a task called outside a worker does: the error itself comes back."""
        self.retried.append(options)
        raise exc


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> PipelineStore:
    from tasks import runtime

    fake = PipelineStore(fakeredis.FakeRedis(decode_responses=True))
    monkeypatch.setattr(runtime, "store", lambda: fake)
    return fake


@pytest.fixture
def envelope(docker_engine: None, project_id: str) -> Any:
    """A pipeline right after create: its sandbox exists."""
    from tasks import runtime
    from tasks.stages import Envelope

    pipeline_id = f"pipe-{uuid.uuid4().hex[:10]}"
    proposal = Proposal(
        proposal_id=f"prop-{pipeline_id}", project_id=project_id, workspace=str(SAMPLE_PROJECT), language="python"
    )
    node = runtime.settings().node
    state = stage_create(runtime.executor(), PipelineState(proposal=proposal, node=node), pipeline_id=pipeline_id)
    assert state.container_id, state.error
    assert len(sandboxes_of(project_id)) == 1
    return Envelope(pipeline_id=pipeline_id, origin_node=node, state=state)


def test_a_stage_that_raises_removes_the_sandbox_and_the_outcome_is_error(
    store: PipelineStore, envelope: Any, project_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.app import app
    from tasks.monitoring import ProposalFailed
    from tasks.stages import _finish, run_stage

    resolved: list[tuple[str, Any]] = []
    monkeypatch.setattr(app.backend, "mark_as_done", lambda task_id, result: resolved.append((task_id, result)))

    def broken(_executor: Any, _state: PipelineState) -> PipelineState:
        raise RuntimeError("a bug in the test stage")

    task = FakeTask()
    env = run_stage(task, envelope, Stage.TEST, broken)

    assert env.state.status == "error" and "a bug in the test stage" in (env.state.error or "")
    assert sandboxes_of(project_id) == []
    assert [(t, f["stage"]) for t, f in task.events] == [("task-progress", "test")]
    assert [entry["stage"] for entry in store.history(envelope.pipeline_id)] == ["test"]
    with pytest.raises(ProposalFailed, match=r"^ERROR · .*a bug in the test stage"):  # Flower counts it as failed
        _finish(task, env)
    outcome = store.outcome(envelope.state.proposal.proposal_id)
    assert outcome is not None and outcome["status"] == "error"
    assert [s["name"] for s in outcome["stages"]] == ["create", "cleanup"]
    assert resolved == [(envelope.pipeline_id, outcome)]  # the caller's AsyncResult gets the whole outcome
    assert store.lease(envelope.pipeline_id) is None


def test_docker_unavailable_is_retried_until_the_last_retry_then_ends_in_error(
    store: PipelineStore, envelope: Any, project_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import runtime
    from tasks.config import QueueSettings
    from tasks.stages import run_stage

    monkeypatch.setattr(
        runtime, "queue_settings", lambda: QueueSettings(CELERY_MAX_RETRIES=2, CELERY_RETRY_BACKOFF_MAX=7)
    )

    def docker_down(_executor: Any, _state: PipelineState) -> PipelineState:
        raise DockerUnavailableError("docker unavailable: connection refused")

    task = FakeTask(request=Request(retries=1))
    with pytest.raises(DockerUnavailableError):  # Celery's retry takes it from here
        run_stage(task, envelope, Stage.BUILD, docker_down)
    assert task.retried[0]["max_retries"] == 2 and 0 <= task.retried[0]["countdown"] <= 7
    assert len(sandboxes_of(project_id)) == 1

    env = run_stage(FakeTask(request=Request(retries=2)), envelope, Stage.BUILD, docker_down)
    assert env.state.status == "error" and env.state.error == "docker unavailable: connection refused"
    assert sandboxes_of(project_id) == []


def test_a_message_delivered_more_than_max_deliveries_gives_up_without_running(
    store: PipelineStore, envelope: Any, project_id: str
) -> None:
    from tasks import runtime
    from tasks.stages import run_stage

    task = FakeTask()
    limit = runtime.queue_settings().CELERY_MAX_DELIVERIES
    for _ in range(limit):
        store.count_delivery(task.request.id, stage="test@0")
    ran: list[str] = []

    env = run_stage(task, envelope, Stage.TEST, lambda _ex, st: ran.append("ran") or st)

    assert ran == [] and env.state.error == f"worker lost {limit} times during the test stage"
    assert sandboxes_of(project_id) == []
