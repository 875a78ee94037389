"""The Celery application and the worker's life-cycle hooks.

`celery -A tasks worker` consumes the shared `proposals` queue plus its own node's queue
`node.<SIGMA_NODE or hostname>` (added on `celeryd_after_setup`, whatever `-Q` says), refuses to
start when the time limits do not nest, registers its node in Redis with a heartbeat and sweeps
its node's leftover containers once it is ready. Its heartbeat thread also publishes the requests
the worker holds and sweeps for lost pipelines (`tasks.lost`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup, celeryd_init, worker_process_shutdown, worker_ready, worker_shutdown

from sigma_exec.docker_backend import DockerBackend
from sigma_exec.gpu import node_gpu_count
from tasks import runtime
from tasks.broker import patch_ack_after_disconnect
from tasks.config import GPU_PROPOSALS_QUEUE, PROPOSALS_QUEUE, check_time_limits, node_queue
from tasks.lost import publish_running, sweep_lost_pipelines, this_machine, worker_identity

log = logging.getLogger(__name__)

app = Celery("sigma_exec")
app.config_from_object("tasks.celeryconfig")  # read lazily, when Celery first needs its configuration

_heartbeat_stop = threading.Event()


patch_ack_after_disconnect()


class ConfigurationRefused(SystemExit):
    """Raised at worker start when the time limits do not nest (the worker exits)."""


@celeryd_init.connect
def refuse_inconsistent_limits(**_: Any) -> None:
    problems = check_time_limits(runtime.settings(), runtime.queue_settings())
    for problem in problems:
        log.error("sigma-exec worker refuses to start: %s", problem)
    if problems:
        raise ConfigurationRefused("sigma-exec: inconsistent time limits: " + "; ".join(problems))


@celeryd_after_setup.connect
def consume_node_queue(sender: str, instance: Any, **_: Any) -> None:
    runtime.set_worker_identity(worker_identity(str(sender), this_machine(), os.getpid()))
    queue = node_queue(runtime.settings().node)
    instance.app.amqp.queues.select_add(queue)
    log.info("worker %s consumes %s", sender, queue)
    if _node_draining():  # `sigma-exec node drain`: finish what is placed here, take nothing new
        instance.app.amqp.queues.deselect(PROPOSALS_QUEUE)
        log.warning("node %s is draining: worker %s takes no new pipelines", runtime.settings().node, sender)
        return
    if _node_offers_gpus():
        instance.app.amqp.queues.select_add(GPU_PROPOSALS_QUEUE)
        log.info("worker %s offers GPUs: consumes %s", sender, GPU_PROPOSALS_QUEUE)


def _node_draining() -> bool:
    try:
        return runtime.store().draining(runtime.settings().node)
    except Exception:  # Redis not there yet: the worker starts as usual
        return False


def _node_offers_gpus() -> bool:
    settings = runtime.settings()
    if settings.NODE_GPUS >= 0:
        return settings.NODE_GPUS > 0
    try:
        return node_gpu_count(DockerBackend().info(), -1) != 0
    except Exception:  # no engine: no GPUs to offer
        return False


def _beat_heartbeat(node: str, worker: str, every_s: int) -> None:
    """Every `every_s`: refresh the node entry, publish what this worker holds, sweep for lost pipelines."""
    while not _heartbeat_stop.wait(every_s):
        try:
            runtime.store().register_node(node)
            publish_running(worker, every_s)
            sweep_lost_pipelines()
        except Exception as exc:  # a Redis blip must not kill the heartbeat
            log.warning("node %s heartbeat failed: %s", node, exc)


@worker_ready.connect
def register_and_sweep(sender: Any = None, **_: Any) -> None:
    node = runtime.settings().node
    try:
        runtime.store().register_node(node)
    except Exception as exc:
        log.error("node %s could not register in Redis: %s", node, exc)
    worker = runtime.worker_identity() or worker_identity(node, this_machine(), os.getpid())
    with contextlib.suppress(Exception):  # a sign of life before the first heartbeat
        publish_running(worker, runtime.queue_settings().NODE_HEARTBEAT_SECONDS)
    threading.Thread(
        target=_beat_heartbeat,
        args=(node, worker, runtime.queue_settings().NODE_HEARTBEAT_SECONDS),
        name="sigma-node-heartbeat",
        daemon=True,
    ).start()
    app.send_task("sigma.reap_node", kwargs={"node": node, "reason": "worker start"}, queue=node_queue(node))
    queue_settings = runtime.queue_settings()
    if queue_settings.METRICS_PORT:
        from tasks.metrics import serve

        serve(runtime.store().redis, queue_settings.METRICS_PORT, queue_settings.METRICS_ADDRESS)
    if sender is not None:
        from tasks.control import drain_on_term

        drain_on_term(sender, runtime.queue_settings().DRAIN_GRACE_SECONDS)


@worker_shutdown.connect
def stop_heartbeat(**_: Any) -> None:
    _heartbeat_stop.set()
    runtime.close_executor()


@worker_process_shutdown.connect
def close_sandboxes(**_: Any) -> None:
    runtime.close_executor()
