"""The pipeline's stages as thin Celery tasks over `sigma_exec.pipeline`.

`sigma.create` runs on the shared `proposals` queue, then sends the chain baseline → apply → test →
build → cleanup to its own node's queue. create's id is the pipeline id; every other task has its own
(`tasks.monitoring.stage_task_id`), and the final outcome is stored under the pipeline id, so the
caller's `AsyncResult.get()` yields it. What Flower shows is decided in `tasks.monitoring`.

Every stage turns what goes wrong into data: after its retries (RetryableError only), after
too many deliveries (its worker keeps dying), on its soft time limit or on a bug, the stage
cleans the container up inline (it is on the container's node), marks the pipeline `error` and
lets the chain carry on to `sigma.cleanup`, which always writes an outcome. A hard time limit
kills the child without `finally`; `on_failure` (worker main process) then sends the final task.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from celery import Task, chain
from celery.exceptions import Ignore, SoftTimeLimitExceeded, TimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from pydantic import BaseModel
from redis.exceptions import RedisError

from sigma_exec.errors import BrokerUnavailableError, DockerUnavailableError, RetryableError
from sigma_exec.executor import DockerExecutor
from sigma_exec.pipeline import (
    PipelineState,
    Proposal,
    ProposalStatus,
    Stage,
    decide,
    stage_apply,
    stage_baseline,
    stage_build,
    stage_cleanup,
    stage_create,
    stage_test,
)
from tasks import runtime
from tasks.app import app
from tasks.config import PROPOSALS_QUEUE, node_queue
from tasks.monitoring import ProposalFailed, ProposalRejected, label, stage_summary, stage_task_id, verdict_result
from tasks.outcome_bounds import bound_outcome, truncate
from tasks.store import Position, PositionState

T = TypeVar("T")

log = logging.getLogger(__name__)

REAP_AFTER_FAILURE_S: Final = 20  # after a pipeline ends in error or without cleanup, its node is reaped
StageStep = Callable[[DockerExecutor, PipelineState], PipelineState]
ORDER: Final = (Stage.CREATE, Stage.BASELINE, Stage.APPLY, Stage.TEST, Stage.BUILD, Stage.CLEANUP)


class Envelope(BaseModel):
    """What one stage hands the next: the pipeline's state, where its container lives, and its attempt.

    `summary` comes first: it is what Flower's result column shows of a stage (`tasks.monitoring`).
    """

    summary: str = ""
    pipeline_id: str
    origin_node: str
    state: PipelineState
    attempt: int = 0  # the ledger's fencing token: a re-run of a lost pipeline is a new attempt

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def handed_on(self, stage: Stage) -> dict[str, Any]:
        """The envelope for the next stage, its summary saying what `stage` did."""
        record = next((r for r in reversed(self.state.stages) if r.name == stage), None)
        tests = self.state.baseline.model_dump(mode="json") if stage == Stage.BASELINE and self.state.baseline else None
        tests = self.state.tests if stage == Stage.TEST else tests
        proposal = self.state.proposal
        who = label(proposal.proposal_id, proposal.project_id, self.origin_node, self.attempt).strip("()")
        shown = record.model_dump(mode="json") if record else None
        self.summary = stage_summary(str(stage), shown, tests, who)
        return self.dump()


class StageTask(Task):
    """Policy shared by every stage: late acks, requeue on a lost worker, back-off on RetryableError.

    Retries are counted and spaced by `run_stage` from the settings read when a stage runs (never at import).
    """

    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if isinstance(exc, TimeLimitExceeded) and args:
            attempt = int((kwargs or {}).get("rerun") or 0)
            _rescue_after_hard_limit(self.name, task_id, args[0], float(exc.args[0]) if exc.args else 0.0, attempt)


def _max_retries() -> int:
    return runtime.queue_settings().CELERY_MAX_RETRIES


def _retry(task: Task, exc: RetryableError) -> Exception:
    """The Retry to raise: exponential back-off with full jitter, capped by CELERY_RETRY_BACKOFF_MAX."""
    countdown = get_exponential_backoff_interval(
        factor=2,
        retries=task.request.retries,
        maximum=runtime.queue_settings().CELERY_RETRY_BACKOFF_MAX,
        full_jitter=True,
    )
    return task.retry(exc=exc, countdown=countdown, max_retries=_max_retries())  # type: ignore[no-any-return]


def _unavailable(exc: RetryableError) -> str:
    text = str(exc)
    if isinstance(exc, DockerUnavailableError) and not text.startswith("docker unavailable"):
        text = f"docker unavailable: {text}"
    return truncate(text)


def _cleanup_inline(state: PipelineState) -> None:
    """Remove the container now (this is its node); never raises."""
    try:
        stage_cleanup(runtime.executor(require=False), state)
    except Exception as exc:  # the reaper removes what this misses
        log.warning("inline cleanup of %s failed: %s", state.container_id, exc)


def _cleaned(state: PipelineState) -> bool:
    return any(record.name == Stage.CLEANUP for record in state.stages)


def _give_up(env: Envelope, stage: Stage, reason: str) -> Envelope:
    log.error("pipeline %s gives up in stage %s: %s", env.pipeline_id, stage, reason)
    env.state.status = ProposalStatus.ERROR
    env.state.error = truncate(reason)
    _cleanup_inline(env.state)
    return env


def _with_broker(fn: Callable[[], T], attempts: int = 12, cap_s: float = 5.0) -> T:
    """Run a Redis call, riding out a short outage in-process.

    Retrying here (rather than with Task.retry, which must publish to the very Redis that is down)
    keeps this delivery unacknowledged: if the worker dies meanwhile, the visibility timeout brings
    the message back.
    """
    for attempt in range(attempts):
        try:
            return fn()
        except (BrokerUnavailableError, RedisError, OSError) as exc:
            if attempt == attempts - 1:
                raise BrokerUnavailableError(f"redis unavailable: {exc}") from exc
            time.sleep(min(cap_s, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def _position_ttl_s() -> int:
    """A position lives as long as the submission it belongs to (so `status` answers all along)."""
    return runtime.queue_settings().OUTCOME_TTL_SECONDS


def _fence_reason(env: Envelope, stage: Stage, finished: bool, position: Position | None) -> str | None:
    """Why this message must do nothing (an older attempt, a stage already passed, a finished pipeline), if it
    must, given what the ledger says."""
    if finished:
        return "the pipeline has finished"
    if position is None:
        return None
    if position.attempt != env.attempt:
        return f"attempt {env.attempt} was superseded by attempt {position.attempt}"
    if position.stage in ORDER and ORDER.index(Stage(position.stage)) > ORDER.index(stage):
        return f"the pipeline is past the {stage} stage (now {position.stage})"
    return None


def _fenced(env: Envelope, stage: Stage) -> tuple[str | None, Position | None]:
    """`_fence_reason` as the ledger says now, and the pipeline's position as read for that."""
    finished, position = _with_broker(lambda: runtime.store().fence_view(env.pipeline_id))
    return _fence_reason(env, stage, finished, position), position


def _ignore(task: Task, env: Envelope, stage: Stage, reason: str | None) -> None:
    if reason is not None:
        log.warning("pipeline %s: %s message %s does nothing: %s", env.pipeline_id, stage, task.request.id, reason)
        raise Ignore()


def _ignore_stale(task: Task, env: Envelope, stage: Stage) -> None:
    _ignore(task, env, stage, _fenced(env, stage)[0])


def _look_and_count(task: Task, env: Envelope, stage: Stage) -> int:
    """Ignore a fenced-off message; else count this delivery of it (one round trip for both)."""
    delivery = (task.request.id or "", task.request.retries, f"{stage}@{env.attempt}")
    finished, position, count = _with_broker(lambda: runtime.store().fence_view_counting(env.pipeline_id, delivery))
    _ignore(task, env, stage, _fence_reason(env, stage, finished, position))
    return count


def _advance(env: Envelope, stage: Stage, following: Stage | None = None) -> None:
    """Record in the ledger that the next stage is queued on the sandbox's node (before it is sent)."""
    following = following or ORDER[ORDER.index(stage) + 1]
    moved = _with_broker(
        lambda: runtime.store().move(
            env.pipeline_id,
            env.attempt,
            _position_ttl_s(),
            proposal_id=env.state.proposal.proposal_id,
            stage=str(following),
            state=str(PositionState.QUEUED),
            queue=node_queue(env.origin_node),
            node=env.origin_node,
            worker="",
            task_id="",
        )
    )
    if not moved:
        log.warning("pipeline %s: attempt %d was fenced off after its %s stage", env.pipeline_id, env.attempt, stage)
        raise Ignore()


def _report(task: Task, env: Envelope, stage: Stage, delivery: int) -> None:
    """Record the stage as running in the ledger (and its history, for `follow`) and tell Flower."""
    proposal_id = env.state.proposal.proposal_id
    node = runtime.settings().node
    moved = _with_broker(
        lambda: runtime.store().move(
            env.pipeline_id,
            env.attempt,
            _position_ttl_s(),
            proposal_id=proposal_id,
            stage=str(stage),
            state=str(PositionState.RUNNING),
            task_id=task.request.id or "",
            node=node,
            delivery=delivery,
            worker=runtime.worker_identity(),
            history=(str(stage), node),  # the stage start, in the same step (`follow` reads it)
        )
    )
    if not moved:
        log.warning("pipeline %s: attempt %d was fenced off before its %s stage", env.pipeline_id, env.attempt, stage)
        raise Ignore()
    with contextlib.suppress(Exception):  # monitoring only: Flower shows PROGRESS with the stage and node
        task.send_event("task-progress", stage=str(stage), node=node, pipeline_id=env.pipeline_id)


def run_stage(task: Task, env: Envelope, stage: Stage, step: StageStep) -> Envelope:
    """One delivery of one stage; errors become data (see the module docstring).

    A message the ledger has fenced off (an older attempt, a stage already passed) raises Ignore.
    """
    try:
        delivery = _look_and_count(task, env, stage)
        lost = delivery - 1
        if lost >= runtime.queue_settings().CELERY_MAX_DELIVERIES:
            return _give_up(env, stage, f"worker lost {lost} times during the {stage} stage")
        _report(task, env, stage, delivery)
        env.state.node = runtime.settings().node
        if delivery > 1 and env.state.container_id:  # an earlier delivery's step may still run in there
            runtime.executor().kill_sandbox_processes(env.state.container_id)
        env.state = step(runtime.executor(), env.state)
    except Ignore:
        raise
    except RetryableError as exc:
        if task.request.retries >= _max_retries():
            return _give_up(env, stage, _unavailable(exc))
        raise _retry(task, exc) from exc
    except SoftTimeLimitExceeded:
        return _give_up(env, stage, f"the {stage} stage exceeded its time limit of {runtime.limits().soft_s}s")
    except Exception as exc:
        log.exception("pipeline %s: stage %s failed", env.pipeline_id, stage)
        return _give_up(env, stage, f"the {stage} stage failed: {exc!r}")
    return env


def _pinned(task: Task, raw: dict[str, Any]) -> Envelope:
    """The envelope, after making sure this worker is on the container's node (re-route if not)."""
    env = Envelope.model_validate(raw)
    if env.origin_node != runtime.settings().node:
        log.warning("stage %s of %s reached node %s; re-routing", task.name, env.pipeline_id, runtime.settings().node)
        raise task.replace(task.signature((raw,), queue=node_queue(env.origin_node)))
    return env


def _reap_later(node: str) -> None:
    """Queue a reap of `node` shortly: a sandbox this pipeline could not remove goes once the engine is back."""
    try:
        app.send_task(
            "sigma.reap_node",
            kwargs={"node": node, "reason": "pipeline ended in error or without cleanup", "retries_left": 5},
            queue=node_queue(node),
            countdown=REAP_AFTER_FAILURE_S,
        )
    except Exception as exc:  # beat's periodic reap still comes
        log.warning("could not queue a reap of %s: %s", node, exc)


def _finish(task: Task, env: Envelope) -> str:
    """Record the outcome (once per pipeline), resolve the caller's AsyncResult, return the verdict line.

    Raises ProposalRejected / ProposalFailed for those verdicts (see `tasks.monitoring`), Ignore when fenced off.
    """
    outcome = bound_outcome(decide(env.state, runtime.settings()).model_dump(mode="json"))
    if env.state.status == ProposalStatus.ERROR or not _cleaned(env.state):
        _reap_later(env.origin_node)
    try:
        recorded = _with_broker(
            lambda: runtime.store().finish(
                env.pipeline_id,
                env.state.proposal.proposal_id,
                outcome,
                runtime.queue_settings().OUTCOME_TTL_SECONDS,
                attempt=env.attempt,
            )
        )
    except RetryableError:
        if task.request.retries < _max_retries():
            raise
        log.exception("pipeline %s: outcome not stored in Redis", env.pipeline_id)
        recorded = outcome
    if recorded is None:  # a re-run took over: its own outcome resolves the AsyncResult
        log.warning("pipeline %s: attempt %d finished after it was fenced off", env.pipeline_id, env.attempt)
        raise Ignore()
    if env.attempt:  # a lost attempt may have left a sandbox on another node: every node reaps it now
        with contextlib.suppress(Exception):
            app.send_task("sigma.reap_all_nodes", queue=PROPOSALS_QUEUE)
    final = recorded
    _with_broker(lambda: app.backend.mark_as_done(env.pipeline_id, final))
    return verdict_result(recorded)


def _remove_leftovers(pipeline_id: str) -> None:
    """An earlier delivery or attempt of create may have left a container here; the name would collide."""
    runtime.executor().remove_pipeline_sandboxes(pipeline_id)


@app.task(bind=True, base=StageTask, name="sigma.create", ignore_result=True, throws=(ProposalRejected, ProposalFailed))
def create(self: Task, proposal: dict[str, Any], rerun: int = 0) -> str:
    """Create the sandbox, then hand the rest of the pipeline to this node's queue.

    `rerun` is the attempt: how often `tasks.lost` sent a lost pipeline again (under the same id).
    """
    pipeline_id = self.request.id or ""
    node = runtime.settings().node
    env = Envelope(
        pipeline_id=pipeline_id,
        origin_node=node,
        attempt=rerun,
        state=PipelineState(proposal=Proposal.model_validate(proposal), node=node),
    )
    if runtime.store().takes_no_pipeline(node, runtime.worker_identity()):  # draining: back to the shared queue
        queue = (self.request.delivery_info or {}).get("routing_key") or PROPOSALS_QUEUE
        log.warning("node %s drains: create of %s goes back to %s", node, pipeline_id, queue)
        shown = label(env.state.proposal.proposal_id, env.state.proposal.project_id, attempt=rerun)
        self.apply_async(
            args=[proposal], kwargs={"rerun": rerun}, task_id=pipeline_id, queue=queue, countdown=1, argsrepr=shown
        )
        raise Ignore()
    reason, position = _fenced(env, Stage.CREATE)
    if reason is not None:  # an older attempt, or an earlier delivery already handed over to the node queue
        log.warning("pipeline %s: create message does nothing: %s", pipeline_id, reason)
        raise Ignore()
    if rerun or (position is not None and position.state == PositionState.RUNNING):
        with contextlib.suppress(Exception):  # an earlier delivery or attempt got this far on this node
            _remove_leftovers(pipeline_id)

    env = run_stage(self, env, Stage.CREATE, lambda ex, st: stage_create(ex, st, pipeline_id=pipeline_id))
    if env.state.status is not None or env.state.container_id is None:
        if not _cleaned(env.state):
            _cleanup_inline(env.state)
        return _finish(self, env)  # nothing to run on: the verdict is known now
    _advance(env, Stage.CREATE)
    rest_of_pipeline(env).apply_async()
    return (
        f"sandbox on {node}; baseline queued · {label(env.state.proposal.proposal_id, env.state.proposal.project_id)}"
    )


def rest_of_pipeline(env: Envelope) -> Any:
    """The chain after create, on the sandbox's node queue, each task with its own id and label."""
    queue, proposal = node_queue(env.origin_node), env.state.proposal
    shown = label(proposal.proposal_id, proposal.project_id, env.origin_node, env.attempt)

    def options(stage: Stage) -> dict[str, Any]:
        task_id = stage_task_id(env.pipeline_id, env.attempt, str(stage))
        return {"queue": queue, "task_id": task_id, "argsrepr": shown, "kwargsrepr": "{}"}

    return chain(
        run_baseline.s(env.handed_on(Stage.CREATE)).set(**options(Stage.BASELINE)),
        apply_changes.s().set(**options(Stage.APPLY)),
        run_tests.s().set(**options(Stage.TEST)),
        run_build.s().set(**options(Stage.BUILD)),
        cleanup.s().set(**options(Stage.CLEANUP)),
    )


@app.task(bind=True, base=StageTask, name="sigma.baseline", ignore_result=True)
def run_baseline(self: Task, envelope: dict[str, Any]) -> dict[str, Any]:
    """The project's tests before the change, or the baseline another node already ran (shared in Redis)."""
    env = _pinned(self, envelope)

    def step(executor: DockerExecutor, state: PipelineState) -> PipelineState:
        return stage_baseline(executor, state, runtime.settings(), runtime.baselines())

    env = run_stage(self, env, Stage.BASELINE, step)
    _advance(env, Stage.BASELINE)
    return env.handed_on(Stage.BASELINE)


@app.task(bind=True, base=StageTask, name="sigma.apply", ignore_result=True)
def apply_changes(self: Task, envelope: dict[str, Any]) -> dict[str, Any]:
    env = _pinned(self, envelope)
    env = run_stage(self, env, Stage.APPLY, lambda ex, st: stage_apply(ex, st, runtime.settings()))
    # The batch (up to MAX_CHANGE_MB) is written now: later messages need not carry it.
    env.state.proposal = env.state.proposal.model_copy(update={"changes": []})
    _advance(env, Stage.APPLY)
    return env.handed_on(Stage.APPLY)


@app.task(bind=True, base=StageTask, name="sigma.test", ignore_result=True)
def run_tests(self: Task, envelope: dict[str, Any]) -> dict[str, Any]:
    env = _pinned(self, envelope)
    env = run_stage(self, env, Stage.TEST, lambda ex, st: stage_test(ex, st, runtime.settings()))
    _advance(env, Stage.TEST)
    return env.handed_on(Stage.TEST)


@app.task(bind=True, base=StageTask, name="sigma.build", ignore_result=True)
def run_build(self: Task, envelope: dict[str, Any]) -> dict[str, Any]:
    env = _pinned(self, envelope)
    env = run_stage(self, env, Stage.BUILD, lambda ex, st: stage_build(ex, st, runtime.settings()))
    _advance(env, Stage.BUILD)
    return env.handed_on(Stage.BUILD)


@app.task(bind=True, base=StageTask, name="sigma.cleanup", throws=(ProposalRejected, ProposalFailed))
def cleanup(self: Task, envelope: dict[str, Any]) -> str:
    """Always the last task: remove the container (again is harmless), write the outcome, show the verdict."""
    env = _pinned(self, envelope)
    if not _cleaned(env.state):
        env = run_stage(self, env, Stage.CLEANUP, lambda _ex, st: stage_cleanup(runtime.executor(require=False), st))
    else:
        _ignore_stale(self, env, Stage.CLEANUP)
    return _finish(self, env)


def _rescue_after_hard_limit(task_name: str, task_id: str, raw: Any, limit_s: float, attempt: int) -> None:
    """Runs in the worker's main process: the child was killed, so finish the pipeline from here."""
    try:
        if task_name == create.name:  # no container id is known: the reaper removes what create left
            node = runtime.settings().node
            state = PipelineState(proposal=Proposal.model_validate(raw), node=node)
            env = Envelope(pipeline_id=task_id, origin_node=node, state=state, attempt=attempt)
        else:
            env = Envelope.model_validate(raw)
        env.state.status = ProposalStatus.ERROR
        env.state.error = f"{task_name} exceeded its hard time limit of {limit_s:.0f}s"
        _advance(env, Stage.CREATE, following=Stage.CLEANUP)  # the ledger: cleanup is queued now
        proposal = env.state.proposal
        cleanup.apply_async(
            args=[env.dump()],
            task_id=stage_task_id(env.pipeline_id, env.attempt, "cleanup-after-limit"),
            queue=node_queue(env.origin_node),
            argsrepr=label(proposal.proposal_id, proposal.project_id, env.origin_node, env.attempt),
        )
    except Ignore:
        log.warning("pipeline %s was fenced off when %s hit its hard time limit", task_id, task_name)
    except Exception:
        log.exception("could not finish a pipeline after %s hit its hard time limit", task_name)


def end_pipeline(pipeline_id: str, proposal: dict[str, Any], reason: str) -> None:
    """End a pipeline from outside its chain (`tasks.lost`): record `error` and resolve its AsyncResult."""
    state = PipelineState(proposal=Proposal.model_validate(proposal), status=ProposalStatus.ERROR, error=reason)
    outcome = bound_outcome(decide(state, runtime.settings()).model_dump(mode="json"))
    recorded = runtime.store().finish(
        pipeline_id, state.proposal.proposal_id, outcome, runtime.queue_settings().OUTCOME_TTL_SECONDS
    )
    app.backend.mark_as_done(pipeline_id, recorded if recorded is not None else outcome)
