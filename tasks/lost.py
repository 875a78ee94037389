"""Lost pipelines: every submitted proposal reaches a terminal state, from our own ledger alone.

kombu's Redis transport takes a message off its queue (BRPOP) and records it as unacknowledged in a
second round trip; a broker restart between the two loses it for good. A worker killed whole leaves
its stage unacknowledged until the visibility timeout (20 minutes by default). A node whose engine
and worker die together leaves its next stages on a queue nobody consumes. None of that is read out
of the broker: `submit_proposal` records each proposal as pending, and every pipeline keeps its
position in the ledger (`tasks.store.Position`: attempt, stage, queued or running, node, worker).
This sweep, run by every worker's heartbeat thread (one at a time, under a Redis lock), judges each
pending proposal from that ledger (`judge`):

- a live worker holds its messages in memory (published every heartbeat): alive;
- running on a worker whose sign of life expired (or whose process is gone on this machine): lost;
- queued on the node queue of a node not heard from for `NODE_LOST_SECONDS`: lost (the node is gone);
- queued within `LOST_PIPELINE_GRACE_SECONDS`, or on a queue that still holds messages: alive;
- otherwise found nowhere: a suspect; found nowhere again `LOST_PIPELINE_CONFIRM_SECONDS` later: lost.

A lost pipeline is sent again from create under the same id (the caller's `AsyncResult` stays valid)
as a new attempt, up to `LOST_PIPELINE_RERUNS` times, then ends `error` naming what happened. The
attempt fences: every message of an older attempt (a dead node's leftovers once it returns, a late
copy the broker restores after its visibility timeout) does nothing, and the outcome is recorded once
per pipeline (`PipelineStore.finish`). The only question put to the broker is how many messages wait
on a queue (`tasks.broker.queue_length`, kombu's public API).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, Field

from tasks.config import NODE_QUEUE_PREFIX
from tasks.store import PREFIX, PipelineStore, Position, PositionState

log = logging.getLogger(__name__)

SWEEP_LOCK: Final = "lost-sweep-lock"
SWEEP_DUE: Final = "lost-sweep-due"  # rate limit: set for one heartbeat interval by the sweep that ran

Resubmit = Callable[[str, dict[str, Any], str, int], None]  # pipeline id, proposal, queue, attempt
EndLost = Callable[[str, dict[str, Any], str], None]  # pipeline id, proposal, reason
QueueLength = Callable[[str], int]


class LostSweep(BaseModel):
    """What one sweep saw and did (JSON; logged and returned by `sigma-exec reap`)."""

    checked: int = 0
    alive: int = 0
    suspects: list[str] = Field(default_factory=list)
    rerun: list[str] = Field(default_factory=list)
    ended: list[str] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)
    workers_gone: list[str] = Field(default_factory=list)  # this machine's dead worker processes, forgotten
    causes: dict[str, str] = Field(default_factory=dict)  # proposal id -> why it was judged lost
    skipped: str | None = None


class Liveness(StrEnum):
    ALIVE = "alive"
    SUSPECT = "suspect"  # found nowhere once: lost if found nowhere again after the confirmation
    LOST = "lost"  # certain now (its worker or its node is gone)


@dataclass(frozen=True)
class Judgement:
    liveness: Liveness
    cause: str = ""


@dataclass(frozen=True)
class SweepRules:
    grace_s: float
    confirm_s: float
    node_lost_s: float
    running_ttl_s: float  # how long a stage that just started may go unpublished by its worker
    max_reruns: int


@dataclass(frozen=True)
class Cluster:
    """What the ledger says of the cluster right now."""

    held: frozenset[str]  # task and root ids live workers hold in memory
    workers: frozenset[str]  # identities of live workers
    nodes: dict[str, float]  # node -> last heartbeat


def node_of_queue(queue: str) -> str | None:
    return queue.removeprefix(NODE_QUEUE_PREFIX) if queue.startswith(NODE_QUEUE_PREFIX) else None


def judge(
    pipeline_id: str, position: Position, cluster: Cluster, queue_length: QueueLength, rules: SweepRules, now: float
) -> Judgement:
    """Whether one pending pipeline is alive, a suspect, or lost (see the module docstring). Pure."""
    stage = f"its {position.stage} stage"
    if pipeline_id in cluster.held:
        return Judgement(Liveness.ALIVE)
    if position.state == PositionState.RUNNING:
        if position.worker and position.worker not in cluster.workers:
            return Judgement(Liveness.LOST, f"worker {position.worker} died while running {stage}")
        if now - position.since < rules.running_ttl_s:
            return Judgement(Liveness.ALIVE)
        return Judgement(Liveness.SUSPECT, f"{stage} was running, but no live worker holds it")
    node = node_of_queue(position.queue)
    if node is not None:
        last = cluster.nodes.get(node)
        if last is None or now - last > rules.node_lost_s:
            silent = "never registered" if last is None else f"no heartbeat for {now - last:.0f}s"
            return Judgement(Liveness.LOST, f"node {node} lost ({silent}) while {stage} was queued on it")
    if now - position.since < rules.grace_s:
        return Judgement(Liveness.ALIVE)
    if position.queue and queue_length(position.queue) > 0:
        return Judgement(Liveness.ALIVE)  # waiting behind others: ours may be among them
    return Judgement(Liveness.SUSPECT, f"no message of {stage} was left in the broker (e.g. after a Redis restart)")


def sweep(
    store: PipelineStore,
    *,
    rules: SweepRules,
    queue_length: QueueLength,
    resubmit: Resubmit,
    end_lost: EndLost,
    now: float | None = None,
) -> LostSweep:
    """One pass over the pending proposals (see the module docstring); errors reach the caller."""
    now = time.time() if now is None else now
    report = LostSweep()
    with store.lock(SWEEP_LOCK) as held:
        if not held:
            report.skipped = "another sweep holds the lock"
            return report
        candidates = _candidates(store, store.pending_since(now), report)
        if not candidates:
            return report
        workers = frozenset(store.running_workers())
        cluster = Cluster(held=frozenset(store.running_ids()), workers=workers, nodes=store.node_heartbeats())
        positions = store.positions(s["pipeline_id"] for s in candidates.values())
        lengths: dict[str, int] = {}

        def cached_length(queue: str) -> int:
            if queue not in lengths:
                lengths[queue] = queue_length(queue)
            return lengths[queue]

        suspects: dict[str, str] = {}
        for proposal_id, submission in sorted(candidates.items()):
            pipeline_id = submission["pipeline_id"]
            position = positions.get(pipeline_id) or _submitted_position(store, proposal_id, submission)
            verdict = judge(pipeline_id, position, cluster, cached_length, rules, now)
            if verdict.liveness == Liveness.ALIVE:
                report.alive += 1
            elif verdict.liveness == Liveness.SUSPECT:
                suspects[proposal_id] = verdict.cause
            else:
                _act_on_lost(store, proposal_id, submission, verdict.cause, rules, resubmit, end_lost, report, now)
        store.clear_suspects(p for p in candidates if p not in suspects)
        for proposal_id, since in sorted(store.suspect(suspects, now).items()):
            if now - since < rules.confirm_s:
                report.suspects.append(proposal_id)
                continue
            cause = suspects[proposal_id]
            _act_on_lost(store, proposal_id, candidates[proposal_id], cause, rules, resubmit, end_lost, report, now)
    return report


def _submitted_position(store: PipelineStore, proposal_id: str, submission: dict[str, str]) -> Position:
    """A pending proposal without a position (recorded before positions existed): queued at create."""
    pending = store.pending_score(proposal_id) or 0.0
    return Position(proposal_id=proposal_id, queue=submission.get("queue") or "", since=pending)


def _candidates(store: PipelineStore, proposal_ids: list[str], report: LostSweep) -> dict[str, dict[str, str]]:
    """Pending proposals still worth checking; drops those already finished or no longer recorded."""
    report.checked = len(proposal_ids)
    candidates = {}
    for proposal_id in proposal_ids:
        submission = store.submission(proposal_id)
        if submission is None or store.finished(submission.get("pipeline_id", "")):
            store.drop_pending(proposal_id)
            report.dropped.append(proposal_id)
            continue
        candidates[proposal_id] = submission
    return candidates


def _act_on_lost(
    store: PipelineStore,
    proposal_id: str,
    submission: dict[str, str],
    cause: str,
    rules: SweepRules,
    resubmit: Resubmit,
    end_lost: EndLost,
    report: LostSweep,
    now: float,
) -> None:
    pipeline_id, proposal = submission["pipeline_id"], json.loads(submission["proposal"])
    reruns = int(submission.get("reruns") or 0)
    rerunnable = submission.get("rerunnable", "1") == "1"
    queue = submission.get("queue") or ""
    report.causes[proposal_id] = cause
    if reruns < rules.max_reruns and rerunnable:
        attempt = store.note_rerun(proposal_id, pipeline_id, queue, store.submission_ttl(proposal_id), now)
        log.warning("pipeline %s of proposal %s was lost (%s); re-run %d", pipeline_id, proposal_id, cause, attempt)
        resubmit(pipeline_id, proposal, queue, attempt)
        report.rerun.append(proposal_id)
        return
    reason = (
        f"pipeline lost: {cause}"
        + (f", also after {reruns} re-run(s)" if reruns else "")
        + ("" if rerunnable else " (its change set was too large to keep for a re-run)")
        + "; submit the proposal again"
    )
    log.error("proposal %s (pipeline %s): %s", proposal_id, pipeline_id, reason)
    end_lost(pipeline_id, proposal, reason)
    store.drop_pending(proposal_id)
    report.ended.append(proposal_id)


# ---- worker processes -------------------------------------------------------------------------
def worker_identity(celery_hostname: str, machine: str, pid: int) -> str:
    """A worker process's identity: unique even when two workers share a Celery host name."""
    return f"{celery_hostname}#{machine}#{pid}"


def this_machine() -> str:
    """The host name plus the pid namespace: only processes that can see each other's pids compare them."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        namespace = "?"
    return f"{socket.gethostname()}/{namespace}"


def process_alive(pid: int) -> bool:
    """Whether `pid` on this machine is still a Celery worker (a re-used pid is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"celery" in cmdline


def forget_dead_local_workers(store: PipelineStore, machine: str) -> list[str]:
    """Workers of this machine whose process is gone no longer count as alive (no TTL wait)."""
    dead = []
    for identity in store.running_workers():
        parts = identity.rsplit("#", 2)
        if len(parts) == 3 and parts[1] == machine and parts[2].isdigit() and not process_alive(int(parts[2])):
            store.forget_worker(identity)
            dead.append(identity)
    return dead


def rules_from(queue: Any) -> SweepRules:
    """The sweep's rules from the queue settings (`tasks.config.QueueSettings`)."""
    heartbeat = queue.NODE_HEARTBEAT_SECONDS
    return SweepRules(
        grace_s=queue.LOST_PIPELINE_GRACE_SECONDS,
        # A confirmation spans a whole heartbeat: a live worker whose holdings expired (Redis outage) republishes.
        confirm_s=max(queue.LOST_PIPELINE_CONFIRM_SECONDS, heartbeat + 5),
        node_lost_s=queue.NODE_LOST_SECONDS or 3 * heartbeat + 5,
        running_ttl_s=running_ttl_s(heartbeat),
        max_reruns=queue.LOST_PIPELINE_RERUNS,
    )


def sweep_lost_pipelines(now: float | None = None, *, force: bool = False) -> LostSweep:
    """Run one sweep with this process's settings, re-running through Celery (see the module docstring).

    Forgets this machine's dead workers first, then judges every pending proposal. At most one sweep
    per heartbeat interval runs across the cluster unless `force` (`sigma-exec reap`).
    """
    from tasks import runtime
    from tasks.app import app
    from tasks.broker import queue_length
    from tasks.monitoring import label
    from tasks.stages import create, end_pipeline

    queue = runtime.queue_settings()
    store = runtime.store()
    now = time.time() if now is None else now
    # However many workers there are, one sweep per heartbeat interval across the cluster.
    due_ms = max(1, queue.NODE_HEARTBEAT_SECONDS * 1000 - 500)
    if not store.redis.set(f"{PREFIX}{SWEEP_DUE}", "1", nx=True, px=due_ms) and not force:
        return LostSweep(skipped="swept within this heartbeat interval")
    dead = forget_dead_local_workers(store, this_machine())
    if dead:
        log.warning("worker processes gone: %s", dead)

    def resubmit(pipeline_id: str, proposal: dict[str, Any], queue_name: str, attempt: int) -> None:
        options: dict[str, Any] = {"queue": queue_name} if queue_name else {}
        shown = label(proposal.get("proposal_id", ""), proposal.get("project_id", ""), attempt=attempt)
        create.apply_async(
            args=[proposal],
            kwargs={"rerun": attempt},
            task_id=pipeline_id,
            argsrepr=shown,
            kwargsrepr=f"{{'rerun': {attempt}}}",
            **options,
        )

    report = sweep(
        store,
        rules=rules_from(queue),
        queue_length=lambda name: queue_length(app, name),
        resubmit=resubmit,
        end_lost=end_pipeline,
        now=now,
    )
    report.workers_gone = dead
    if report.rerun or report.ended or report.suspects:
        log.warning("lost-pipeline sweep: %s", report.model_dump_json())
    if report.ended:  # their sandboxes (on whichever node) may go now; a re-run's go when it finishes
        from tasks.reaping import reap_all_nodes

        reap_all_nodes.apply_async()
    return report


def running_ttl_s(heartbeat_s: int) -> int:
    """How long a worker's published holdings count without a refresh (two heartbeats and a margin)."""
    return 2 * heartbeat_s + 5


def publish_running(worker: str, heartbeat_s: int) -> None:
    """Tell the sweep which task and root ids this worker process holds (active, reserved or scheduled)."""
    from celery.worker import state

    from tasks import runtime

    ids: set[str] = set()
    with contextlib.suppress(RuntimeError):  # the sets may change while being read
        for request in [*state.active_requests, *state.reserved_requests, *state.scheduled_requests]:
            ids.update(x for x in (request.id, request.root_id) if x)
    runtime.store().publish_running(worker, ids, running_ttl_s(heartbeat_s))
