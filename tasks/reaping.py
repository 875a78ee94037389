"""Reaping on every node: beat feeds each known node's queue, a worker sweeps its node at start.

Per-node queues instead of a broadcast: Redis fan-out is Pub/Sub and is lost while a worker is
offline. A Redis lock (SET NX PX) per node makes two concurrent reapers harmless, and a pipeline
placed on this node (its ledger position) is passed as live so its container is never touched.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from sigma_exec.errors import BrokerUnavailableError, SigmaExecError
from sigma_exec.executor import DockerExecutor
from sigma_exec.reaper import ReapReport
from tasks import runtime
from tasks.app import app
from tasks.config import node_queue
from tasks.store import PipelineStore

log = logging.getLogger(__name__)


def reap_node(
    node: str | None = None,
    *,
    store: PipelineStore | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Remove this node's expired and orphaned sandboxes; returns a JSON report.

    Called by the `sigma.reap_node` task and by `sigma-exec reap`. `node` defaults to this
    machine's node; it must be the node whose Docker engine this process talks to.
    """
    node = node or runtime.settings().node
    store = store or runtime.store()
    report = ReapReport(node=node)
    executor = runtime.executor(require=False)
    if not executor.available:
        report.errors.append(executor.unavailable_reason or "docker unavailable")
        return report.model_dump(mode="json")
    try:
        with store.reaper_lock(node) as held:
            if not held:
                return {**report.model_dump(mode="json"), "skipped": "another reaper holds this node's lock"}
            report = _reap_with_liveness(executor, store, node, now or time.time())
            report.removed_images = executor.collect_images()
    except BrokerUnavailableError as exc:
        # Without Redis nothing is known live or dead: only expired and stopped sandboxes go.
        report = executor.reap(node, now or time.time())
        report.errors.append(f"{exc}; reaped without pipeline liveness and without the lock")
    except SigmaExecError as exc:  # the engine went away meanwhile
        report.errors.append(str(exc))
    if report.removed:
        log.info("reaper on %s removed %d container(s): %s", node, len(report.removed), report.reasons)
    return report.model_dump(mode="json")


def _reap_with_liveness(executor: DockerExecutor, store: PipelineStore, node: str, now: float) -> ReapReport:
    try:
        pipelines = executor.sandbox_pipelines(node)
    except SigmaExecError as exc:
        return ReapReport(node=node, errors=[str(exc)])
    live, dead = store.pipeline_liveness(pipelines, node=node)  # a lost run's sandbox here is dead
    return executor.reap(node, now, live_pipelines=live, dead_pipelines=dead)


@app.task(name="sigma.reap_node", acks_late=True)
def reap_node_task(
    node: str | None = None, reason: str = "schedule", retries_left: int = 0, retry_after_s: float = 20.0
) -> dict[str, Any]:
    """Reap this worker's node (the task is routed to `node.<node>`).

    With `retries_left`, a reap that met errors (the engine still restarting) is queued again later.
    """
    here = runtime.settings().node
    if node and node != here:
        log.warning("reap task for %s reached %s; reaping %s", node, here, here)
    report = {**reap_node(here), "reason": reason}
    with contextlib.suppress(BrokerUnavailableError):
        runtime.store().note_reaped(here, report)
    if report.get("errors") and retries_left > 0:
        kwargs = {"node": here, "reason": reason, "retries_left": retries_left - 1, "retry_after_s": retry_after_s}
        with contextlib.suppress(Exception):  # beat's periodic reap still comes
            reap_node_task.apply_async(kwargs=kwargs, queue=node_queue(here), countdown=retry_after_s)
    return report


@app.task(name="sigma.reap_all_nodes")
def reap_all_nodes() -> list[str]:
    """Beat's task: queue one reap task on every node heard from recently."""
    nodes = runtime.store().known_nodes(runtime.queue_settings().NODE_FORGET_SECONDS)
    interval = float(runtime.settings().REAPER_INTERVAL_SECONDS)
    for node in nodes:
        reap_node_task.apply_async(
            kwargs={"node": node, "reason": "schedule"}, queue=node_queue(node), expires=interval
        )
    return nodes
