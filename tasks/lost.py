"""Lost pipelines: every submitted proposal reaches a terminal state, even when its message vanished.

kombu's Redis transport takes a message off its queue (BRPOP) and records it as unacknowledged in a
second round trip; a broker restart between the two loses the message for good, and with it the
pipeline. So `submit_proposal` records each proposal as pending (with its proposal and queue) until
its outcome is recorded, and this sweep, run by every worker's heartbeat thread (one at a time, under
a Redis lock), looks at the pending proposals past `LOST_PIPELINE_GRACE_SECONDS`:

- its pipeline holds a lease, or a message of it is queued (any queue, any priority), unacknowledged,
  or held in a live worker's memory: alive;
- found nowhere: a suspect; found nowhere again at least `LOST_PIPELINE_CONFIRM_SECONDS` later: lost.

A lost pipeline is sent again under the same id (the caller's `AsyncResult` stays valid) up to
`LOST_PIPELINE_RERUNS` times, then ends `error` naming what happened. The outcome is recorded once
per pipeline (`PipelineStore.finish`), so a pipeline that comes back after all cannot record twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, Field

from tasks.store import ORPHAN_SUSPECTS_KEY, PREFIX, PipelineStore

log = logging.getLogger(__name__)

SWEEP_LOCK: Final = "lost-sweep-lock"
SWEEP_LOCK_TTL_MS: Final = 120_000
SWEEP_DUE: Final = "lost-sweep-due"  # rate limit: set for one heartbeat interval by the sweep that ran
# kombu's Redis transport layout (kombu.transport.redis.Channel): queue keys, priorities, unacked hash.
KOMBU_SEP: Final = "\x06\x16"
KOMBU_PRIORITY_STEPS: Final = (0, 3, 6, 9)
KOMBU_UNACKED: Final = "unacked"
KOMBU_UNACKED_INDEX: Final = "unacked_index"
KOMBU_BINDINGS: Final = "_kombu.binding.*"

Resubmit = Callable[[str, dict[str, Any], str, int], None]  # pipeline id, proposal, queue, re-run number
EndLost = Callable[[str, dict[str, Any], str], None]  # pipeline id, proposal, reason


class LostSweep(BaseModel):
    """What one sweep saw and did (JSON; logged and returned by `sigma-exec reap`)."""

    checked: int = 0
    alive: int = 0
    suspects: list[str] = Field(default_factory=list)
    rerun: list[str] = Field(default_factory=list)
    ended: list[str] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)
    restored: list[str] = Field(default_factory=list)  # delivery tags put back on their queue
    skipped: str | None = None


def _headers(raw: str | bytes) -> dict[str, Any]:
    """The headers of one serialized kombu message or unacked entry (empty for anything unreadable)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return {}
    if isinstance(message, list) and message:  # the unacked hash stores [message, exchange, routing key]
        message = message[0]
    headers = message.get("headers") if isinstance(message, dict) else None
    return headers if isinstance(headers, dict) else {}


def message_ids(raw: str | bytes) -> set[str]:
    """Task id and root id of one serialized kombu message (empty for anything unreadable)."""
    headers = _headers(raw)
    return {str(headers[k]) for k in ("id", "root_id") if headers.get(k)}


def queue_keys(queue_names: Iterable[str]) -> list[str]:
    """Every Redis list kombu uses for these queues (one per priority step)."""
    keys = []
    for queue in sorted(set(queue_names)):
        keys.extend(queue if pri == 0 else f"{queue}{KOMBU_SEP}{pri}" for pri in KOMBU_PRIORITY_STEPS)
    return keys


def declared_queues(store: PipelineStore) -> set[str]:
    """Queue names from kombu's bindings plus the node queues of every node that ever registered."""
    from tasks.config import GPU_PROPOSALS_QUEUE, PROPOSALS_QUEUE, node_queue

    client = store.redis
    names = {PROPOSALS_QUEUE, GPU_PROPOSALS_QUEUE}
    names.update(node_queue(str(node)) for node in client.zrange(f"{PREFIX}nodes", 0, -1))
    for key in client.scan_iter(match=KOMBU_BINDINGS, count=500):
        for member in client.smembers(key):
            names.add(str(member).split(KOMBU_SEP)[-1])
    return names


def ids_in_broker(store: PipelineStore) -> set[str]:
    """Ids of every message queued or unacknowledged, then of every request a live worker holds.

    Read in the direction messages move (queue → unacked → worker) so that one moving along is seen.
    """
    client, found = store.redis, set()
    for key in queue_keys(declared_queues(store)):
        for raw in client.lrange(key, 0, -1):
            found |= message_ids(raw)
    for raw in client.hvals(KOMBU_UNACKED):
        found |= message_ids(raw)
    return found | store.running_ids()


def sweep(
    store: PipelineStore,
    *,
    grace_s: float,
    confirm_s: float,
    max_reruns: int,
    resubmit: Resubmit,
    end_lost: EndLost,
    now: float | None = None,
) -> LostSweep:
    """One pass over the pending proposals (see the module docstring); errors reach the caller."""
    now = time.time() if now is None else now
    report = LostSweep()
    with store.lock(SWEEP_LOCK, SWEEP_LOCK_TTL_MS) as held:
        if not held:
            report.skipped = "another sweep holds the lock"
            return report
        candidates = _candidates(store, store.pending_since(now - grace_s), report)
        if not candidates:
            return report
        leased, _done = store.pipeline_liveness(s["pipeline_id"] for s in candidates.values())
        # The broker is read only for pipelines without a lease (the usual sweep reads nothing more).
        seen = ids_in_broker(store) if any(s["pipeline_id"] not in leased for s in candidates.values()) else set()
        found = seen | leased
        alive = {prop for prop, sub in candidates.items() if sub["pipeline_id"] in found}
        report.alive = len(alive)
        store.clear_suspects(alive)
        first_seen = store.suspect((p for p in candidates if p not in alive), now)
        for proposal_id, since in sorted(first_seen.items()):
            if now - since < confirm_s:
                report.suspects.append(proposal_id)
                continue
            _act_on_lost(store, proposal_id, candidates[proposal_id], max_reruns, resubmit, end_lost, report, now)
    return report


def _candidates(store: PipelineStore, proposal_ids: list[str], report: LostSweep) -> dict[str, dict[str, str]]:
    """Pending proposals still worth checking; drops those already finished or no longer recorded."""
    report.checked = len(proposal_ids)
    candidates = {}
    for proposal_id in proposal_ids:
        submission = store.submission(proposal_id)
        if submission is None or store.redis.exists(f"{PREFIX}done:{submission.get('pipeline_id', '')}"):
            store.drop_pending(proposal_id)
            report.dropped.append(proposal_id)
            continue
        candidates[proposal_id] = submission
    return candidates


def _act_on_lost(
    store: PipelineStore,
    proposal_id: str,
    submission: dict[str, str],
    max_reruns: int,
    resubmit: Resubmit,
    end_lost: EndLost,
    report: LostSweep,
    now: float,
) -> None:
    pipeline_id, proposal = submission["pipeline_id"], json.loads(submission["proposal"])
    reruns = int(submission.get("reruns") or 0)
    rerunnable = submission.get("rerunnable", "1") == "1"
    if reruns < max_reruns and rerunnable:
        count = store.note_rerun(proposal_id, now)
        log.warning("pipeline %s of proposal %s was lost; re-run %d", pipeline_id, proposal_id, count)
        resubmit(pipeline_id, proposal, submission.get("queue") or "", count)
        report.rerun.append(proposal_id)
        return
    reason = (
        f"pipeline lost: no message of pipeline {pipeline_id} was left in the broker (e.g. after a Redis restart)"
        + (f", also after {reruns} re-run(s)" if reruns else "")
        + ("" if rerunnable else " (its change set was too large to keep for a re-run)")
        + "; submit the proposal again"
    )
    log.error("proposal %s: %s", proposal_id, reason)
    end_lost(pipeline_id, proposal, reason)
    store.drop_pending(proposal_id)
    report.ended.append(proposal_id)


# ---- messages held by a dead worker -------------------------------------------------------------
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
    """Workers of this machine whose process is gone no longer count as holding anything (no TTL wait)."""
    dead = []
    for identity in store.running_workers():
        parts = identity.rsplit("#", 2)
        if len(parts) == 3 and parts[1] == machine and parts[2].isdigit() and not process_alive(int(parts[2])):
            store.forget_worker(identity)
            dead.append(identity)
    return dead


def restore_orphans(
    store: PipelineStore, restore: Callable[[str], None], *, now: float, min_age_s: float, confirm_s: float
) -> list[str]:
    """Put unacknowledged messages that no live worker holds back on their queue; returns their tags.

    A worker killed as a whole (main process and pool) leaves its messages unacknowledged until the
    visibility timeout, which must outlast the longest stage (20 minutes by default). A message
    delivered more than `min_age_s` ago (live workers publish what they hold more often than that)
    and held by no live worker in two sweeps `confirm_s` apart goes back now, as the visibility
    timeout would do later: the stage runs again (its delivery counter stops a poison message).
    """
    held = store.running_ids()
    client, orphans = store.redis, []
    for tag in client.zrangebyscore(KOMBU_UNACKED_INDEX, "-inf", now - min_age_s):
        raw = client.hget(KOMBU_UNACKED, tag)
        if raw is not None and task_id_of(raw) not in held:
            orphans.append(str(tag))
    gone = set(store.suspects(ORPHAN_SUSPECTS_KEY)) - set(orphans)
    store.clear_suspects(gone, key=ORPHAN_SUSPECTS_KEY)
    restored = []
    for tag, since in sorted(store.suspect(orphans, now, key=ORPHAN_SUSPECTS_KEY).items()):
        if now - since >= confirm_s:
            restore(tag)
            store.clear_suspects([tag], key=ORPHAN_SUSPECTS_KEY)
            restored.append(tag)
    return restored


def restore_held_by(store: PipelineStore, dead: Iterable[str], restore: Callable[[str], None]) -> list[str]:
    """Put back at once the stage messages whose lease names a worker known dead; returns their tags."""
    dead = set(dead)
    if not dead:
        return []
    client, wanted = store.redis, set()
    for key in client.scan_iter(match=f"{PREFIX}pipeline:*", count=500):
        worker, task_id = client.hmget(key, "worker", "task_id")
        if worker in dead and task_id:
            wanted.add(str(task_id))
    tags = [str(tag) for tag, raw in client.hgetall(KOMBU_UNACKED).items() if task_id_of(raw) in wanted]
    for tag in tags:
        restore(tag)
    return tags


def task_id_of(raw: str | bytes) -> str:
    """The task id of one unacked entry ('' when unreadable)."""
    return str(_headers(raw).get("id") or "")


def sweep_lost_pipelines(now: float | None = None, *, force: bool = False) -> LostSweep:
    """Run one sweep with this process's settings, re-running through Celery (see the module docstring).

    Puts back the messages of dead workers first, then looks for lost pipelines. At most one sweep
    per heartbeat interval runs across the cluster unless `force` (`sigma-exec reap`).
    """
    from tasks import runtime
    from tasks.stages import create, end_pipeline

    queue = runtime.queue_settings()
    store = runtime.store()
    now = time.time() if now is None else now
    # However many workers there are, one sweep per heartbeat interval across the cluster.
    due_ms = max(1, queue.NODE_HEARTBEAT_SECONDS * 1000 - 500)
    if not store.redis.set(f"{PREFIX}{SWEEP_DUE}", "1", nx=True, px=due_ms) and not force:
        return LostSweep(skipped="swept within this heartbeat interval")
    # A confirmation spans a whole heartbeat: a live worker whose holdings expired (Redis outage) republishes.
    confirm_s = max(queue.LOST_PIPELINE_CONFIRM_SECONDS, queue.NODE_HEARTBEAT_SECONDS + 5)
    dead = forget_dead_local_workers(store, this_machine())
    restored = restore_held_by(store, dead, _restore_with_kombu) + restore_orphans(
        store,
        _restore_with_kombu,
        now=now,
        min_age_s=running_ttl_s(queue.NODE_HEARTBEAT_SECONDS),
        confirm_s=confirm_s,
    )
    if dead or restored:
        log.warning("workers gone: %s; their unacknowledged messages put back: %s", dead, restored)

    def resubmit(pipeline_id: str, proposal: dict[str, Any], queue_name: str, rerun: int) -> None:
        options: dict[str, Any] = {"queue": queue_name} if queue_name else {}
        create.apply_async(args=[proposal], kwargs={"rerun": rerun}, task_id=pipeline_id, **options)

    report = sweep(
        store,
        grace_s=queue.LOST_PIPELINE_GRACE_SECONDS,
        confirm_s=confirm_s,
        max_reruns=queue.LOST_PIPELINE_RERUNS,
        resubmit=resubmit,
        end_lost=end_pipeline,
        now=now,
    )
    report.restored = restored
    if report.rerun or report.ended or report.suspects:
        log.warning("lost-pipeline sweep: %s", report.model_dump_json())
    if report.ended:  # their sandboxes (on whichever node) may go now that the pipelines are done
        from tasks.reaping import reap_all_nodes

        reap_all_nodes.apply_async()
    return report


def _restore_with_kombu(tag: str) -> None:
    """kombu's own restore (as its visibility-timeout restore does): back on the queue, out of unacked."""
    from tasks.app import app

    with app.connection_for_write() as connection:
        connection.default_channel.qos.restore_by_tag(tag)


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
