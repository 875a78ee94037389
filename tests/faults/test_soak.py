"""Fault injection on the real stack: proposals through two celery workers while things break.

A worker is SIGKILLed (main process and pool) and restarted, our own Redis is killed and restarted,
and, only with SIGMA_FAULTS_RESTART_DOCKERD=1, dockerd is restarted. Afterwards every proposal has
exactly one outcome in a terminal state and no sandbox of theirs is left.

The soak (`SIGMA_SOAK_PROPOSALS`, default 100) runs in `make test` with a worker kill and a Redis
restart; `make soak` runs it with the dockerd restart too (that one restarts this machine's engine, so
the ordinary suite leaves it out). A second test sends 10 proposals into a worker killed at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from fault_helpers import (
    FAST_LIMITS,
    TERMINAL,
    RedisServer,
    Submitted,
    new_run_id,
    outcomes,
    submit_batch,
)
from pipeline_helpers import Cluster, Proc, sandboxes_of, sigma_networks, sigma_temp_entries, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]

SOAK_PROPOSALS = int(os.environ.get("SIGMA_SOAK_PROPOSALS", "100"))
RESTART_DOCKERD = os.environ.get("SIGMA_FAULTS_RESTART_DOCKERD") == "1"
DOCKERD_RESTART_CMD = os.environ.get(
    "SIGMA_FAULTS_DOCKERD_RESTART_CMD",
    "kill -TERM $(cat /var/run/docker.pid); sleep 5; bash scripts/ensure-engine.sh",
)


@dataclass
class Faults:
    """When (fraction of outcomes recorded) each fault fires; None = never."""

    kill_worker_at: float | None = 0.2
    restart_redis_at: float | None = 0.5
    restart_dockerd_at: float | None = None
    fired: list[str] = field(default_factory=list)


def _kill_and_replace(cluster: Cluster, victim: Proc, node: str) -> Proc:
    victim.kill_group(signal.SIGKILL)
    victim.popen.wait(timeout=10)
    return cluster.worker(node, name="a2", **FAST_LIMITS)


def _restart_dockerd() -> None:  # pragma: no cover - only with SIGMA_FAULTS_RESTART_DOCKERD=1
    subprocess.run(["bash", "-c", DOCKERD_RESTART_CMD], check=True, timeout=120)


def _drive(
    cluster: Cluster, redis: RedisServer, batch: list[Submitted], workers: list[Proc], node: str, faults: Faults
) -> dict[str, dict]:
    """Wait for every outcome, firing each fault once when its share of outcomes is recorded."""
    deadline = time.monotonic() + 240 + 6 * len(batch)
    seen: dict[str, dict] = {}
    while time.monotonic() < deadline:
        seen.update(outcomes(redis.url, batch))
        share = len(seen) / len(batch)
        if faults.kill_worker_at is not None and "kill-worker" not in faults.fired and share >= faults.kill_worker_at:
            workers[0] = _kill_and_replace(cluster, workers[0], node)
            faults.fired.append("kill-worker")
        if (
            faults.restart_redis_at is not None
            and "restart-redis" not in faults.fired
            and share >= faults.restart_redis_at
        ):
            redis.restart()
            faults.fired.append("restart-redis")
        if (
            faults.restart_dockerd_at is not None
            and "restart-dockerd" not in faults.fired
            and share >= faults.restart_dockerd_at
        ):
            _restart_dockerd()
            faults.fired.append("restart-dockerd")
        if len(seen) == len(batch):
            break
        time.sleep(0.5)
    return seen


def run_with_faults(cluster: Cluster, redis: RedisServer, projects: list[str], count: int, faults: Faults) -> dict:
    run = new_run_id()
    node = f"fault-{run}"
    networks_before, temp_before = sigma_networks(), sigma_temp_entries()
    started = time.monotonic()
    workers = [cluster.worker(node, name=name, **FAST_LIMITS) for name in ("a", "b")]
    batch = submit_batch(redis.url, count, run, cluster.env())
    projects.extend(s.project_id for s in batch)

    seen = _drive(cluster, redis, batch, workers, node, faults)
    wall_s = time.monotonic() - started
    states = Counter(o.get("status") for o in seen.values())
    summary = {
        "proposals": count,
        "wall_s": round(wall_s, 1),
        "states": dict(states),
        "faults": faults.fired,
        "missing": sorted(s.proposal_id for s in batch if s.proposal_id not in seen)[:10],
        # pipelines the lost-pipeline sweep sent again (their message vanished in a fault)
        "lost_reruns": sum(proc.text().count("was lost; re-run") for proc in cluster.procs),
    }
    print("fault-run summary:", json.dumps(summary))

    # Every proposal ended, in a terminal state, recorded exactly once.
    assert summary["missing"] == [], summary
    assert set(states) <= TERMINAL, summary
    writes = redis.outcome_writes()
    assert {s.proposal_id: writes[s.proposal_id] for s in batch} == {s.proposal_id: 1 for s in batch}, summary
    assert set(writes) == {s.proposal_id for s in batch}  # and nothing else was recorded
    for s in batch:  # a fault may turn a verdict into an error, never into the wrong verdict
        assert seen[s.proposal_id]["status"] in (s.expect, "error"), seen[s.proposal_id]
    # No sandbox of theirs is left (cleanup ran before each outcome was written).
    try:
        wait_until(lambda: all(not sandboxes_of(pid) for pid in projects), 60, 1.0, what="zero sandboxes left")
    except AssertionError:
        by_project = {s.project_id: s.proposal_id for s in batch}
        for pid in projects:
            for box in sandboxes_of(pid):
                print("left:", box["Names"], box["State"], box["Status"], box["Labels"].get("sigma.pipeline"))
                print("  its outcome:", json.dumps(seen.get(by_project.get(pid, ""), {}))[:1500])
        raise
    # ... nor a network or a temp dir of sigma-exec's that was not there before
    assert sigma_networks() <= networks_before
    assert sigma_temp_entries() <= temp_before
    return summary


@pytest.mark.timeout(420)
def test_ten_proposals_survive_a_worker_kill(
    own_redis: RedisServer, fault_cluster: Cluster, projects: list[str]
) -> None:
    summary = run_with_faults(fault_cluster, own_redis, projects, 10, Faults(kill_worker_at=0.0, restart_redis_at=None))
    assert summary["faults"] == ["kill-worker"]


@pytest.mark.soak
@pytest.mark.timeout(240 + 6 * SOAK_PROPOSALS + 180)  # the drive loop's own bound, plus set-up and teardown
def test_a_soak_survives_a_worker_kill_a_redis_restart_and_optionally_a_dockerd_restart(
    own_redis: RedisServer, fault_cluster: Cluster, projects: list[str]
) -> None:
    count = SOAK_PROPOSALS
    faults = Faults(restart_dockerd_at=0.7 if RESTART_DOCKERD else None)
    summary = run_with_faults(fault_cluster, own_redis, projects, count, faults)
    expected = ["kill-worker", "restart-redis"] + (["restart-dockerd"] if RESTART_DOCKERD else [])
    assert summary["faults"] == expected
