"""Reliability with real workers: a node that dies mid-stage, a poison stage, Docker down, bad limits.

Workers here run with small limits (TEST_TIMEOUT 10 s, visibility timeout 30 s) so that a message
abandoned by a dead worker comes back within seconds rather than the production default.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from pipeline_helpers import SMALL_TIME_LIMITS, Cluster, sandboxes_of, stage_running, submit_sample, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]

MAX_DELIVERIES = 2
SMALL_LIMITS = {**SMALL_TIME_LIMITS, "CELERY_MAX_DELIVERIES": str(MAX_DELIVERIES)}
TERMINAL_BOUND_S = 240  # DESIGN: terminal within 4 minutes of a new worker starting


def submit(project_id: str, **extra: Any) -> Any:
    return submit_sample(project_id, **extra)


def test_a_pipeline_whose_node_dies_mid_stage_ends_after_a_new_worker_starts(
    cluster: Cluster, docker_engine: None, project_id: str
) -> None:
    # Given a pipeline in its test stage on nodeK
    first = cluster.worker("nodeK", name="first", **SMALL_LIMITS)
    result = submit(project_id, test_command="sleep 30")
    wait_until(lambda: stage_running(result.id, "test"), 60, what="the test stage to start")
    time.sleep(1)

    # When the whole worker (main process and pool) is SIGKILLed and a fresh one starts
    first.kill_group(signal.SIGKILL)
    first.popen.wait(timeout=10)
    assert sandboxes_of(project_id), "the sandbox outlives its worker until the pipeline ends"
    started = time.monotonic()
    cluster.worker("nodeK", name="second", **SMALL_LIMITS)

    # Then the pipeline reaches a terminal state in bounded time and leaves no sandbox
    outcome = result.get(timeout=TERMINAL_BOUND_S)
    assert time.monotonic() - started < TERMINAL_BOUND_S
    # the ledger saw the dead worker and ran the pipeline again from create (attempt 1, the old
    # sandbox removed); its command then timed out as data, and the old message, when the visibility
    # timeout brought it back, did nothing (fenced off)
    assert outcome["status"] == "rejected", outcome["error"]
    assert outcome["tests"]["timed_out"] is True
    assert [s["name"] for s in outcome["stages"]] == ["create", "baseline", "apply", "test", "build", "cleanup"]
    assert sandboxes_of(project_id) == []


def test_a_stage_that_keeps_killing_its_worker_gives_up_after_max_deliveries(
    cluster: Cluster, docker_engine: None, project_id: str
) -> None:
    cluster.worker("nodeP", **SMALL_LIMITS)
    result = submit(project_id, test_command="sleep 30")

    killed: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 90
    while not result.ready() and time.monotonic() < deadline and len(killed) <= MAX_DELIVERIES:
        lease = stage_running(result.id, "test")
        if lease and (lease["delivery"], lease["pid"]) not in killed:
            killed.add((lease["delivery"], lease["pid"]))
            os.kill(int(lease["pid"]), signal.SIGKILL)  # the pool child running the stage dies
        time.sleep(0.1)

    outcome = result.get(timeout=60)
    assert len(killed) == MAX_DELIVERIES
    assert outcome["status"] == "error"
    assert f"worker lost {MAX_DELIVERIES} times" in outcome["error"]
    assert [s["name"] for s in outcome["stages"]][-1] == "cleanup"
    assert sandboxes_of(project_id) == []


def test_without_docker_a_stage_retries_with_backoff_then_ends_in_error(cluster: Cluster, project_id: str) -> None:
    worker = cluster.worker(
        "nodeD",
        DOCKER_HOST="unix:///nonexistent/docker.sock",
        CELERY_MAX_RETRIES="2",
        CELERY_RETRY_BACKOFF_MAX="1",
    )
    outcome = submit(project_id).get(timeout=60)

    assert outcome["status"] == "error"
    assert outcome["error"].startswith("docker unavailable")
    assert worker.text().count("Retry in") == 2


def test_a_worker_refuses_to_start_when_the_visibility_timeout_is_shorter_than_a_stage(cluster: Cluster) -> None:
    worker = cluster.worker("nodeBad", wait=False, CELERY_VISIBILITY_TIMEOUT="10")
    worker.popen.wait(timeout=40)
    assert worker.popen.returncode != 0
    assert "refuses to start" in worker.text() and "CELERY_VISIBILITY_TIMEOUT=10s" in worker.text()
