"""The pipeline's own state in Redis: delivery counters, leases, outcomes, nodes, the reaper lock.

The Celery result backend is a cache; this is the ledger the reaper and `status` trust.
Every Redis failure is translated into `BrokerUnavailableError` (retryable).

Keys (all under `sigma:`):
    deliveries:<task id>:<retry>[:<stage>]  INCR + TTL   how often one stage message was started
    pipeline:<pipeline id>        hash + TTL        position (`Position`): attempt, stage, queued or running, where
    history:<pipeline id>         list + TTL        every stage start, in order (JSON; what `follow` shows)
    done:<pipeline id>            string + TTL      the pipeline has finished (its containers may go)
    proposal:<proposal id>        string + TTL      the pipeline now running this proposal
    outcome:<proposal id>         JSON + TTL        the final outcome
    pending                       zset proposal → submit (or re-run) time, until its outcome is recorded
    submission:<proposal id>      hash + TTL        pipeline id, queue, proposal JSON, re-runs (for `tasks.lost`)
    lost-suspects                 hash proposal → first time its pipeline was found nowhere
    running:<worker>              set + TTL         task and root ids a live worker holds in memory (its sign of life)
    workers                       set               identities that published `running:` (expired ones pruned)
    nodes                         zset node → last heartbeat (unix s)
    draining                      set               nodes that take no new pipelines (`sigma-exec node drain`)
    draining-worker:<worker>      string + TTL      a worker process shutting down after TERM
    metrics:verdicts, metrics:latency  hashes       verdict counts and latency per node (`tasks.metrics`)
    last-reap                     hash node → the node's last reap report (JSON)
    reaper-lock:<node>            string PX         one reaper per node at a time (a lease its holder renews)
    lost-sweep-lock               string PX         one lost-pipeline sweep at a time (a lease its holder renews)
    lost-sweep-due                string PX         set by the last sweep for one heartbeat interval
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import Any, Final

import redis
from pydantic import BaseModel, ConfigDict, ValidationError

from sigma_exec.errors import BrokerUnavailableError
from tasks.metrics import count_verdict

log = logging.getLogger(__name__)

PREFIX: Final = "sigma:"
DELIVERY_TTL_S: Final = 24 * 3600
# How soon a lock (a lease its holder renews) is free again after its holder was killed whole.
LEASE_TTL_MS: Final = 15_000
HISTORY_MAX: Final = 100  # stage starts kept per pipeline (re-runs and redeliveries included)


@contextlib.contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise BrokerUnavailableError(f"redis unavailable: {exc}") from exc


# KEYS: the pipeline's lease, its done marker, its history; ARGV: attempt, ttl, a history entry ('' for none), the
# history's cap, then the lease's fields and values. Moves the lease (and appends the entry) only while the pipeline
# is unfinished and `attempt` is its attempt (or it has none yet); 1 when it moved.
MOVE_SCRIPT: Final = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local current = redis.call('HGET', KEYS[1], 'attempt')
if current and current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
if ARGV[3] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[3])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[2]))
end
return 1
"""


def _history_entry(stage: str, node: str, attempt: int) -> str:
    return json.dumps({"stage": stage, "node": node, "attempt": attempt, "at": round(time.time(), 3)})


def _delivery_key(task_id: str, retries: int, stage: str) -> str:
    return f"{PREFIX}deliveries:{task_id}:{retries}" + (f":{stage}" if stage else "")


def _queue_delivery_count(pipe: Any, delivery: tuple[str, int, str]) -> None:
    """Queue one more start of a message (task id, retries, stage) on `pipe`: its count, then the count's expiry."""
    key = _delivery_key(*delivery)
    pipe.incr(key)
    pipe.expire(key, DELIVERY_TTL_S)


def lease_key(pipeline_id: str) -> str:
    return f"{PREFIX}pipeline:{pipeline_id}"


def _done_key(pipeline_id: str) -> str:
    return f"{PREFIX}done:{pipeline_id}"


def _history_key(pipeline_id: str) -> str:
    return f"{PREFIX}history:{pipeline_id}"


def outcome_key(proposal_id: str) -> str:
    return f"{PREFIX}outcome:{proposal_id}"


def submission_key(proposal_id: str) -> str:
    return f"{PREFIX}submission:{proposal_id}"


PENDING_KEY: Final = f"{PREFIX}pending"
SUSPECTS_KEY: Final = f"{PREFIX}lost-suspects"
RUNNING_PREFIX: Final = f"{PREFIX}running:"
WORKERS_KEY: Final = f"{PREFIX}workers"
DRAINING_KEY: Final = f"{PREFIX}draining"
ALIVE_MEMBER: Final = "@alive"  # keeps a worker's running set present while it holds nothing


def _queue_fresh_position(
    pipe: Any, pipeline_id: str, proposal_id: str, attempt: int, queue: str, now: float | None, ttl_s: int
) -> None:
    """Queue on `pipe` the position of an attempt just sent: create, queued on `queue`."""
    since = f"{time.time() if now is None else now:.3f}"
    fields = {"proposal_id": proposal_id, "attempt": str(attempt), "stage": "create", "state": "queued"}
    pipe.delete(lease_key(pipeline_id))
    pipe.hset(lease_key(pipeline_id), mapping={**fields, "queue": queue, "since": since})
    pipe.expire(lease_key(pipeline_id), ttl_s)


class PositionState(StrEnum):
    QUEUED = "queued"  # its message was sent (or is about to be) and no worker has started it
    RUNNING = "running"  # a worker started it


class Position(BaseModel):
    """Where a pipeline is: the ledger's single record of its liveness (hash `pipeline:<id>`).

    `attempt` fences: a re-run bumps it, and a message of an older attempt (a dead node's leftovers, a
    message the broker brought back late) does nothing. `stage` is the stage queued or running now.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    proposal_id: str = ""
    attempt: int = 0
    stage: str = "create"
    state: PositionState = PositionState.QUEUED
    queue: str = ""  # where the stage's message goes (queued) or came from (running)
    node: str = ""  # the node holding the sandbox ('' before create placed it)
    worker: str = ""  # the worker process running the stage (running only)
    task_id: str = ""
    delivery: int = 0
    pid: int = 0
    since: float = 0.0  # when it entered this state

    @classmethod
    def parse(cls, raw: dict[str, str]) -> Position | None:
        try:
            return cls.model_validate(raw)
        except ValidationError:
            return None


class PipelineStore:
    """Thin typed operations over one Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._move = client.register_script(MOVE_SCRIPT)

    @classmethod
    def from_url(cls, url: str) -> PipelineStore:
        return cls(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, decode_responses=True))

    # ---- deliveries ---------------------------------------------------------------------------
    def count_delivery(self, task_id: str, retries: int = 0, stage: str = "") -> int:
        """Record one more start of this message (a retry is a new message); return the count.

        `stage` keeps apart two tasks sharing an id (create and the chain's last task both carry the
        pipeline id).
        """
        with _translate():
            pipe = self.redis.pipeline()
            _queue_delivery_count(pipe, (task_id, retries, stage))
            count, _ = pipe.execute()
        return int(count)

    # ---- leases -------------------------------------------------------------------------------
    def move(
        self,
        pipeline_id: str,
        attempt: int,
        ttl_s: int,
        *,
        now: float | None = None,
        history: tuple[str, str] | None = None,
        **fields: str | int,
    ) -> bool:
        """Set the pipeline's position if `attempt` is still its attempt; False when fenced off or finished.

        One script, atomic in Redis: a stage of a superseded attempt can never overwrite the current one. With
        `history` (stage, node), the same step appends that stage start to the pipeline's history (the last
        HISTORY_MAX entries are kept).
        """
        mapping: dict[str, str] = {k: str(v) for k, v in fields.items()}
        mapping.update(attempt=str(attempt), since=f"{time.time() if now is None else now:.3f}", pid=str(os.getpid()))
        entry = _history_entry(history[0], history[1], attempt) if history else ""
        keys = [lease_key(pipeline_id), _done_key(pipeline_id), _history_key(pipeline_id)]
        args = [str(attempt), str(ttl_s), entry, str(HISTORY_MAX), *[x for kv in mapping.items() for x in kv]]
        with _translate():
            return bool(self._move(keys=keys, args=args))

    def history(self, pipeline_id: str, start: int = 0) -> list[dict[str, Any]]:
        """The pipeline's stage starts from index `start` on (oldest first)."""
        with _translate():
            found = self.redis.lrange(_history_key(pipeline_id), start, -1)
        return [json.loads(raw) for raw in found]

    def position(self, pipeline_id: str) -> Position | None:
        """The pipeline's position, or None when it has none (finished, never submitted, or expired)."""
        found = self.lease(pipeline_id)
        return Position.parse(found) if found else None

    def positions(self, pipeline_ids: Iterable[str]) -> dict[str, Position]:
        ids = sorted(set(pipeline_ids))
        if not ids:
            return {}
        with _translate():
            pipe = self.redis.pipeline()
            for pid in ids:
                pipe.hgetall(lease_key(pid))
            found = pipe.execute()
        parsed = {
            pid: Position.parse({str(k): str(v) for k, v in raw.items()})
            for pid, raw in zip(ids, found, strict=True)
            if raw
        }
        return {pid: pos for pid, pos in parsed.items() if pos is not None}

    def fence_view(self, pipeline_id: str) -> tuple[bool, Position | None]:
        """(finished, position) in one round trip: what a stage reads to know whether it is fenced off."""
        finished, position, _count = self.fence_view_counting(pipeline_id, None)
        return finished, position

    def fence_view_counting(
        self, pipeline_id: str, delivery: tuple[str, int, str] | None
    ) -> tuple[bool, Position | None, int]:
        """`fence_view`, and with `delivery` (task id, retries, stage) `count_delivery` in the same round trip
        (0 without): a stage's first look at the ledger."""
        with _translate():
            pipe = self.redis.pipeline()
            pipe.exists(_done_key(pipeline_id))
            pipe.hgetall(lease_key(pipeline_id))
            if delivery is not None:
                _queue_delivery_count(pipe, delivery)
            done, raw, *counted = pipe.execute()
        position = Position.parse({str(k): str(v) for k, v in raw.items()}) if raw else None
        return bool(done), position, int(counted[0]) if counted else 0

    def finished(self, pipeline_id: str) -> bool:
        with _translate():
            return bool(self.redis.exists(_done_key(pipeline_id)))

    def note_submitted(
        self,
        proposal_id: str,
        pipeline_id: str,
        ttl_s: int,
        *,
        proposal: dict[str, Any] | None = None,
        queue: str = "",
        now: float | None = None,
        rerunnable: bool = True,
    ) -> None:
        """Record a submission; with `proposal`, track it as pending until its outcome is recorded.

        `rerunnable=False`: the proposal was kept without its changes (too large), so a lost pipeline
        of it can only end `error`.
        """
        with _translate():
            pipe = self.redis.pipeline()
            pipe.set(f"{PREFIX}proposal:{proposal_id}", pipeline_id, ex=ttl_s)
            if proposal is not None:
                record = {
                    "submitted_at": f"{now if now is not None else time.time():.3f}",
                    "pipeline_id": pipeline_id,
                    "queue": queue,
                    "proposal": json.dumps(proposal),
                    "reruns": "0",
                    "rerunnable": "1" if rerunnable else "0",
                }
                pipe.delete(submission_key(proposal_id))
                pipe.hset(submission_key(proposal_id), mapping=record)
                pipe.expire(submission_key(proposal_id), ttl_s)
                pipe.zadd(PENDING_KEY, {proposal_id: now if now is not None else time.time()})
            _queue_fresh_position(pipe, pipeline_id, proposal_id, 0, queue, now, ttl_s)
            pipe.execute()

    def forget_submission(self, proposal_id: str, pipeline_id: str) -> None:
        """Undo `note_submitted` for a message that was never sent (best effort)."""
        with contextlib.suppress(redis.RedisError):
            if self.redis.hget(submission_key(proposal_id), "pipeline_id") == pipeline_id:
                self.redis.zrem(PENDING_KEY, proposal_id)
                self.redis.delete(submission_key(proposal_id), lease_key(pipeline_id))

    def pending_since(self, cutoff: float) -> list[str]:
        """Proposals submitted (or last re-run) before `cutoff` that have no recorded outcome yet."""
        with _translate():
            return [str(p) for p in self.redis.zrangebyscore(PENDING_KEY, "-inf", cutoff)]

    def pending_score(self, proposal_id: str) -> float | None:
        """When the proposal was submitted or last re-run (None when not pending)."""
        with _translate():
            found = self.redis.zscore(PENDING_KEY, proposal_id)
        return None if found is None else float(found)

    def submission_ttl(self, proposal_id: str, default_s: int = DELIVERY_TTL_S) -> int:
        """Seconds the submission record has left (a re-run's position lives as long)."""
        with _translate():
            left = int(self.redis.ttl(submission_key(proposal_id)))
        return left if left > 0 else default_s

    def submission(self, proposal_id: str) -> dict[str, str] | None:
        with _translate():
            found = self.redis.hgetall(submission_key(proposal_id))
        return {str(k): str(v) for k, v in found.items()} if found else None

    def drop_pending(self, proposal_id: str) -> None:
        with _translate():
            self.redis.zrem(PENDING_KEY, proposal_id)
            self.redis.hdel(SUSPECTS_KEY, proposal_id)

    def note_rerun(self, proposal_id: str, pipeline_id: str, queue: str, ttl_s: int, now: float | None = None) -> int:
        """Count one more re-run of a lost pipeline; its position becomes a new attempt queued at create.

        Returns the count, which is also the new attempt: every message of an older attempt is fenced off.
        """
        now = now if now is not None else time.time()
        with _translate():
            pipe = self.redis.pipeline()
            pipe.hincrby(submission_key(proposal_id), "reruns", 1)
            pipe.zadd(PENDING_KEY, {proposal_id: now}, xx=True)
            pipe.hdel(SUSPECTS_KEY, proposal_id)
            count = int(pipe.execute()[0])
            _queue_fresh_position(pipe, pipeline_id, proposal_id, count, queue, now, ttl_s)
            pipe.execute()
        return count

    def suspect(self, ids: Iterable[str], now: float, key: str = SUSPECTS_KEY) -> dict[str, float]:
        """Note that these were found missing now; returns when each was first noted (kept in hash `key`)."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        with _translate():
            pipe = self.redis.pipeline()
            for pid in ids:
                pipe.hsetnx(key, pid, f"{now:.3f}")
            pipe.hmget(key, ids)
            first_seen = pipe.execute()[-1]
        return {pid: float(seen) for pid, seen in zip(ids, first_seen, strict=True) if seen is not None}

    def clear_suspects(self, ids: Iterable[str], key: str = SUSPECTS_KEY) -> None:
        ids = list(ids)
        if ids:
            with _translate():
                self.redis.hdel(key, *ids)

    def suspects(self, key: str) -> list[str]:
        with _translate():
            return [str(k) for k in self.redis.hkeys(key)]

    # ---- what live workers hold in memory -----------------------------------------------------
    def publish_running(self, worker: str, ids: Iterable[str], ttl_s: int) -> None:
        """Replace the set of task and root ids `worker` holds, for `ttl_s`; the key is its sign of life."""
        key, members = f"{RUNNING_PREFIX}{worker}", sorted({ALIVE_MEMBER, *ids})
        with _translate():
            pipe = self.redis.pipeline()
            pipe.delete(key)
            pipe.sadd(key, *members)
            pipe.expire(key, ttl_s)
            pipe.sadd(WORKERS_KEY, worker)
            pipe.execute()

    def running_workers(self) -> list[str]:
        """Identities of the workers whose sign of life has not expired (the expired ones are pruned)."""
        with _translate():
            known = sorted(str(w) for w in self.redis.smembers(WORKERS_KEY))
            if not known:
                return []
            pipe = self.redis.pipeline()
            for worker in known:
                pipe.exists(f"{RUNNING_PREFIX}{worker}")
            alive = [w for w, flag in zip(known, pipe.execute(), strict=True) if flag]
            expired = set(known) - set(alive)
            if expired:
                self.redis.srem(WORKERS_KEY, *expired)
        return alive

    def forget_worker(self, worker: str) -> None:
        """Drop a worker known to be dead: nothing it held counts as held any more."""
        with _translate():
            self.redis.delete(f"{RUNNING_PREFIX}{worker}")
            self.redis.srem(WORKERS_KEY, worker)

    def running_ids(self) -> set[str]:
        """Every id some live worker reported holding (no keyspace scan: workers are registered)."""
        keys = [f"{RUNNING_PREFIX}{worker}" for worker in self.running_workers()]
        with _translate():
            return {str(m) for m in self.redis.sunion(keys)} - {ALIVE_MEMBER} if keys else set()

    def lease(self, pipeline_id: str) -> dict[str, str] | None:
        with _translate():
            found = self.redis.hgetall(lease_key(pipeline_id))
        return {str(k): str(v) for k, v in found.items()} if found else None

    def pipeline_of(self, proposal_id: str) -> str | None:
        with _translate():
            found = self.redis.get(f"{PREFIX}proposal:{proposal_id}")
        return None if found is None else str(found)

    def pipeline_liveness(self, pipeline_ids: Iterable[str], node: str | None = None) -> tuple[set[str], set[str]]:
        """(live, dead): pipelines with a position, and pipelines known to have finished.

        With `node`: a sandbox there belongs to a live pipeline only while the pipeline is placed on that
        node (or not placed yet); once a re-run placed it elsewhere, the sandbox of the lost run is dead.
        """
        ids = sorted(set(pipeline_ids))
        if not ids:
            return set(), set()
        with _translate():
            pipe = self.redis.pipeline()
            for pid in ids:
                pipe.exists(lease_key(pid))
                pipe.hget(lease_key(pid), "node")
                pipe.exists(_done_key(pid))
            flags = pipe.execute()
        positioned = {pid for pid, flag in zip(ids, flags[0::3], strict=True) if flag}
        placed = dict(zip(ids, flags[1::3], strict=True))
        live = {pid for pid in positioned if node is None or placed[pid] in (None, "", node)}
        finished = {pid for pid, flag in zip(ids, flags[2::3], strict=True) if flag}
        dead = (finished | positioned) - live
        return live, dead

    # ---- outcomes -----------------------------------------------------------------------------
    def finish(
        self, pipeline_id: str, proposal_id: str, outcome: dict[str, Any], ttl_s: int, *, attempt: int | None = None
    ) -> dict[str, Any] | None:
        """Record the outcome once per pipeline, drop its position and mark the pipeline done.

        One WATCH transaction. A second finish of the same pipeline (a redelivered last stage, or a
        pipeline declared lost that came back after all) writes nothing and returns the outcome
        recorded first, so every view of the proposal agrees. With `attempt`, a finish from an attempt
        the ledger has fenced off (the pipeline was re-run meanwhile) writes nothing and returns None.
        Returns the recorded outcome.
        """
        done = _done_key(pipeline_id)
        recorded: dict[str, Any] | None = outcome

        def transaction(pipe: Any) -> None:
            nonlocal recorded
            if pipe.exists(done):
                raw = pipe.get(outcome_key(proposal_id))
                recorded = json.loads(raw) if raw else outcome
                pipe.multi()
                return
            current = pipe.hget(lease_key(pipeline_id), "attempt")
            if attempt is not None and current is not None and str(current) != str(attempt):
                recorded = None
                pipe.multi()
                return
            recorded = outcome
            submitted_by, submitted_at = pipe.hmget(submission_key(proposal_id), "pipeline_id", "submitted_at")
            pipe.multi()
            latency = time.time() - float(submitted_at) if submitted_at else None
            count_verdict(pipe, str(outcome.get("node") or ""), str(outcome.get("status") or "?"), latency)
            pipe.set(outcome_key(proposal_id), json.dumps(outcome), ex=ttl_s)
            pipe.set(done, proposal_id, ex=ttl_s)
            pipe.delete(lease_key(pipeline_id))
            pipe.set(f"{PREFIX}proposal:{proposal_id}", pipeline_id, ex=ttl_s)
            if submitted_by in (None, pipeline_id):  # a newer submission of the proposal stays tracked
                pipe.zrem(PENDING_KEY, proposal_id)
                pipe.hdel(SUSPECTS_KEY, proposal_id)
                pipe.delete(submission_key(proposal_id))

        with _translate():
            self.redis.transaction(
                transaction, done, outcome_key(proposal_id), submission_key(proposal_id), lease_key(pipeline_id)
            )
        return recorded

    def outcome(self, proposal_id: str) -> dict[str, Any] | None:
        with _translate():
            raw = self.redis.get(outcome_key(proposal_id))
        return json.loads(raw) if raw else None

    # ---- nodes --------------------------------------------------------------------------------
    def register_node(self, node: str, now: float | None = None) -> None:
        with _translate():
            self.redis.zadd(f"{PREFIX}nodes", {node: now if now is not None else time.time()})

    def node_heartbeats(self) -> dict[str, float]:
        """Every registered node and when it was last heard from (unix s)."""
        with _translate():
            return {str(node): float(at) for node, at in self.redis.zrange(f"{PREFIX}nodes", 0, -1, withscores=True)}

    def set_draining(self, node: str, draining: bool) -> None:
        """Remember (or forget) that `node` takes no new pipelines, for its workers that start later."""
        with _translate():
            if draining:
                self.redis.sadd(DRAINING_KEY, node)
            else:
                self.redis.srem(DRAINING_KEY, node)

    def draining(self, node: str) -> bool:
        with _translate():
            return bool(self.redis.sismember(DRAINING_KEY, node))

    def set_worker_draining(self, worker: str, ttl_s: int) -> None:
        """Remember that this worker process shuts down (TERM): it takes no new pipeline meanwhile."""
        with _translate():
            self.redis.set(f"{DRAINING_KEY}-worker:{worker}", "1", ex=max(1, ttl_s))

    def takes_no_pipeline(self, node: str, worker: str) -> bool:
        """Whether a create that reached this worker must go back: its node or the worker itself drains."""
        with _translate():
            pipe = self.redis.pipeline()
            pipe.sismember(DRAINING_KEY, node)
            pipe.exists(f"{DRAINING_KEY}-worker:{worker}")
            node_drains, worker_drains = pipe.execute()
        return bool(node_drains) or (bool(worker) and bool(worker_drains))

    def in_flight_on(self, node: str) -> list[str]:
        """Pipelines of pending proposals whose position places them on `node`."""
        with _translate():
            proposal_ids = [str(p) for p in self.redis.zrange(PENDING_KEY, 0, -1)]
            pipe = self.redis.pipeline()
            for proposal_id in proposal_ids:
                pipe.hget(submission_key(proposal_id), "pipeline_id")
            pipeline_ids = [str(p) for p in pipe.execute() if p]
        return sorted(pid for pid, pos in self.positions(pipeline_ids).items() if pos.node == node)

    def known_nodes(self, forget_after_s: int, now: float | None = None) -> list[str]:
        """Nodes heard from within `forget_after_s`, oldest entries pruned."""
        now = now if now is not None else time.time()
        with _translate():
            self.redis.zremrangebyscore(f"{PREFIX}nodes", "-inf", now - forget_after_s)
            found = self.redis.zrangebyscore(f"{PREFIX}nodes", now - forget_after_s, "+inf")
        return sorted(str(node) for node in found)

    def note_reaped(self, node: str, report: dict[str, Any]) -> None:
        """Keep the last reap report of a node (for operators and tests)."""
        with _translate():
            self.redis.hset(f"{PREFIX}last-reap", node, json.dumps({**report, "at": time.time()}))

    def last_reaps(self) -> dict[str, dict[str, Any]]:
        with _translate():
            found = self.redis.hgetall(f"{PREFIX}last-reap")
        return {str(node): json.loads(raw) for node, raw in found.items()}

    # ---- locks -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str, ttl_ms: int = LEASE_TTL_MS) -> Iterator[bool]:
        """Yield True when this caller holds the lock `name` (SET NX PX), else False.

        The lock is a lease: while the caller holds it a daemon thread renews it every third of
        `ttl_ms`, so the work under it may take as long as it takes, yet a holder killed whole (its
        worker SIGKILLed, its node lost) frees the lock within `ttl_ms` instead of blocking every
        other sweep or reap until a TTL sized for the longest possible work runs out.
        """
        key, token = f"{PREFIX}{name}", uuid.uuid4().hex
        with _translate():
            acquired = bool(self.redis.set(key, token, nx=True, px=ttl_ms))
        if not acquired:
            yield False
            return
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(key, token, ttl_ms, stop), name=f"sigma-lock-{name}", daemon=True
        )
        renewer.start()
        try:
            yield True
        finally:
            stop.set()
            renewer.join(timeout=5)
            self._release(key, token)

    def _renew(self, key: str, token: str, ttl_ms: int, stop: threading.Event) -> None:
        """Extend the lease every third of its TTL while it is still ours; stop once it is not."""
        while not stop.wait(ttl_ms / 3000):
            try:
                if not self._compare_and(key, token, lambda pipe: pipe.pexpire(key, ttl_ms)):
                    log.warning("lock %s was lost before its holder released it", key)
                    return
            except redis.RedisError as exc:  # a Redis outage: keep trying while the work goes on
                log.warning("could not renew lock %s: %s", key, exc)

    def reaper_lock(self, node: str, ttl_ms: int = LEASE_TTL_MS) -> contextlib.AbstractContextManager[bool]:
        """One reaper per node at a time."""
        return self.lock(f"reaper-lock:{node}", ttl_ms)

    def _release(self, key: str, token: str) -> None:
        """Delete the lock only if it is still ours."""
        with contextlib.suppress(redis.RedisError):
            self._compare_and(key, token, lambda pipe: pipe.delete(key))

    def _compare_and(self, key: str, token: str, change: Callable[[Any], object]) -> bool:
        """Apply `change` to `key` only while it holds `token` (a WATCH transaction); whether it did."""
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(key)
                if pipe.get(key) != token:
                    return False
                pipe.multi()
                change(pipe)
                pipe.execute()
            except redis.WatchError:
                return False
        return True
