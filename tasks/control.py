"""Draining a node: Celery remote control commands every worker answers for its own node.

`sigma-exec node drain NAME` broadcasts `sigma_drain`: each worker of node NAME stops consuming the
shared proposal queues (so it takes no new pipeline) and keeps consuming its node queue (so the
pipelines it holds finish where their sandboxes are). The ledger remembers the node as draining, so a
worker of it that (re)starts meanwhile does not take new pipelines either; `sigma-exec node resume NAME`
(`sigma_resume`) undoes both. `drain` then waits until no pending pipeline is placed on the node.

A worker sent TERM does the same for itself (`drain_on_term`): it stops taking new pipelines, keeps
running the stages of those placed on its node for up to `DRAIN_GRACE_SECONDS`, then shuts down the
way Celery always does (warm: active tasks finish). A second TERM shuts down at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from celery.worker.control import control_command
from pydantic import BaseModel, Field

from tasks import runtime
from tasks.config import GPU_PROPOSALS_QUEUE, PROPOSALS_QUEUE

SHARED_QUEUES = (PROPOSALS_QUEUE, GPU_PROPOSALS_QUEUE)
log = logging.getLogger(__name__)


class DrainReport(BaseModel):
    """What `drain` saw: which workers stopped taking pipelines, and whether the node emptied in time."""

    node: str
    workers: list[str] = Field(default_factory=list, description="workers of the node that stopped taking pipelines")
    in_flight_at_start: list[str] = Field(default_factory=list, description="pipelines placed on the node")
    in_flight: list[str] = Field(default_factory=list, description="pipelines still placed on it at the end")
    empty: bool = False
    waited_s: float = 0.0


@control_command(args=[("node", str)], signature="<node>")
def sigma_drain(state: Any, node: str, **_: Any) -> dict[str, str]:
    """Stop taking new pipelines if this worker belongs to `node` (its node queue stays consumed)."""
    if node != runtime.settings().node:
        return {"skipped": f"not node {node}"}
    for queue in SHARED_QUEUES:
        state.consumer.call_soon(state.consumer.cancel_task_queue, queue)
    return {"ok": f"node {node} takes no new pipelines"}


@control_command(args=[("node", str)], signature="<node>")
def sigma_resume(state: Any, node: str, **_: Any) -> dict[str, str]:
    """Take new pipelines again if this worker belongs to `node`."""
    if node != runtime.settings().node:
        return {"skipped": f"not node {node}"}
    state.consumer.call_soon(state.consumer.add_task_queue, PROPOSALS_QUEUE, None, "direct", None)
    return {"ok": f"node {node} takes pipelines again"}


def _acknowledged(replies: list[dict[str, Any]] | None) -> list[str]:
    return sorted(worker for reply in replies or [] for worker, answer in reply.items() if "ok" in answer)


def drain(node: str, *, timeout_s: float = 1800.0, poll_s: float = 1.0, reply_s: float = 5.0) -> DrainReport:
    """Stop `node` taking new pipelines, then wait (up to `timeout_s`) until none is placed on it."""
    from tasks.app import app

    store = runtime.store()
    store.set_draining(node, True)
    replies = app.control.broadcast("sigma_drain", arguments={"node": node}, reply=True, timeout=reply_s)
    report = DrainReport(node=node, workers=_acknowledged(replies), in_flight_at_start=store.in_flight_on(node))
    started = time.monotonic()
    while True:
        report.in_flight = store.in_flight_on(node)
        report.waited_s = round(time.monotonic() - started, 1)
        if not report.in_flight or report.waited_s >= timeout_s:
            break
        time.sleep(poll_s)
    report.empty = not report.in_flight
    return report


def resume(node: str, *, reply_s: float = 5.0) -> list[str]:
    """Let `node` take new pipelines again; returns the workers that acknowledged."""
    from tasks.app import app

    runtime.store().set_draining(node, False)
    return _acknowledged(app.control.broadcast("sigma_resume", arguments={"node": node}, reply=True, timeout=reply_s))


def drain_on_term(consumer: Any, grace_s: int, poll_s: float = 0.5) -> None:
    """Wrap the worker's TERM handler (installed by Celery before `worker_ready`) with a drain first."""
    celery_handler = signal.getsignal(signal.SIGTERM)
    if grace_s <= 0 or not callable(celery_handler):
        return
    node, started = runtime.settings().node, threading.Event()

    def shut_down() -> None:
        celery_handler(signal.SIGTERM, None)

    def wait_then_shut_down() -> None:
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            try:
                if not runtime.store().in_flight_on(node):
                    break
            except Exception as exc:  # Redis gone: nothing to wait for that can be known
                log.warning("TERM drain of %s: %s; shutting down", node, exc)
                break
            time.sleep(poll_s)
        log.warning(
            "TERM drain of node %s done after %.0fs; shutting down", node, grace_s - (deadline - time.monotonic())
        )
        shut_down()

    def on_term(signum: int, frame: Any) -> None:
        if started.is_set():  # a second TERM: no more waiting
            shut_down()
            return
        started.set()
        try:  # a create that slips in before the consumer stops goes back to the shared queue
            runtime.store().set_worker_draining(runtime.worker_identity(), grace_s + 60)
        except Exception as exc:
            log.warning("TERM drain of %s: %s", node, exc)
        for queue in SHARED_QUEUES:
            consumer.call_soon(consumer.cancel_task_queue, queue)
        log.warning("TERM: node %s takes no new pipeline; finishing those placed on it (up to %ss)", node, grace_s)
        threading.Thread(target=wait_then_shut_down, name="sigma-term-drain", daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
