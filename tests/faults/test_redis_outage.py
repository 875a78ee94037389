"""A Redis outage between two stages: the pipeline must still reach a terminal state.

Deterministic form of what the soak hits at random: the test stage runs while our Redis goes
down, so the next stage starts (and tries to retry) while the broker is unreachable.
"""

from __future__ import annotations

import time

import pytest
from fault_helpers import FAST_LIMITS, TERMINAL, RedisServer, new_run_id, outcomes, submit_batch
from pipeline_helpers import Cluster, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]


def _stage(redis: RedisServer, pipeline_id: str) -> str | None:
    import redis as redis_py

    try:
        client = redis_py.Redis.from_url(redis.url, socket_timeout=2, decode_responses=True)
        return client.hget(f"sigma:pipeline:{pipeline_id}", "stage")
    except redis_py.RedisError:
        return None


def test_a_pipeline_reaches_a_terminal_state_across_a_redis_outage(
    own_redis: RedisServer, fault_cluster: Cluster, projects: list[str]
) -> None:
    run = new_run_id()
    fault_cluster.worker(f"fault-{run}", name="a", **{**FAST_LIMITS, "CELERY_MAX_RETRIES": "3"})
    batch = submit_batch(own_redis.url, 1, run, fault_cluster.env(), test_command="sleep 5; echo slow")
    projects.extend(s.project_id for s in batch)
    wait_until(lambda: _stage(own_redis, batch[0].pipeline_id) == "test", 60, what="the test stage")

    own_redis.kill()  # down while the test stage runs and while the next stage starts
    time.sleep(12)
    own_redis.start()

    # Anything still unacked comes back within the visibility timeout (30 s) plus a restore interval.
    done = wait_until(lambda: outcomes(own_redis.url, batch), 75, 1.0, what="an outcome after the outage")
    assert done[batch[0].proposal_id]["status"] in TERMINAL
