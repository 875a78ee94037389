"""The sweep's and the reapers' Redis locks are leases: held as long as the work takes, freed soon after a kill.

Regression: the lost-pipeline sweep's lock had a fixed 120 s TTL (the reaper's 10 min). A worker SIGKILLed
while its heartbeat thread swept (a node lost whole) left the lock behind, and no other node could judge
the lost node's pipelines for two minutes: `test_node_loss` timed out in CI waiting for the re-run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import RedisServer
from pipeline_helpers import wait_until

from tasks.lost import SWEEP_LOCK, SweepRules, sweep
from tasks.store import LEASE_TTL_MS, PipelineStore

pytestmark = [pytest.mark.redis]
REPO = Path(__file__).resolve().parents[2]
# A node lost whole must not stop the others from sweeping and reaping for longer than this.
FREED_WITHIN_S = 20

HOLDER = """
import sys, time
from tasks.store import PipelineStore
store = PipelineStore.from_url(sys.argv[1])
with store.lock(sys.argv[2], int(sys.argv[3])) as held:
    print("held" if held else "refused", flush=True)
    time.sleep(120)
"""


def _hold_in_another_process(url: str, name: str, ttl_ms: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, name, str(ttl_ms)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_held_lock_outlives_its_ttl_and_goes_with_its_release(own_redis: RedisServer) -> None:
    store = PipelineStore.from_url(own_redis.url)
    with store.lock("lease", 600) as held:
        assert held
        deadline = time.monotonic() + 2.0  # over three TTLs: only the renewal keeps it
        while time.monotonic() < deadline:
            with store.lock("lease", 600) as other:
                assert not other
            time.sleep(0.1)
    assert not store.redis.exists("sigma:lease")
    with store.lock("lease", 600) as again:
        assert again


def test_a_lock_whose_holder_was_killed_whole_is_free_within_its_ttl(own_redis: RedisServer) -> None:
    store = PipelineStore.from_url(own_redis.url)
    reaper_lock = "reaper-lock:lost-node"
    # Given a sweeper and a reaper that each hold their lock, renewing it for longer than its TTL
    holders = [
        _hold_in_another_process(own_redis.url, SWEEP_LOCK, LEASE_TTL_MS),
        _hold_in_another_process(own_redis.url, reaper_lock, LEASE_TTL_MS),
    ]
    time.sleep(1.0)

    def swept() -> bool:
        report = sweep(store, rules=_rules(), queue_length=lambda _: 0, resubmit=_never, end_lost=_never)
        return report.skipped is None

    assert not swept()
    # When both are killed whole (their node lost)
    for holder in holders:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    killed_at = time.monotonic()

    # Then the next sweep and reap run within the lease's TTL, not after a TTL sized for the longest work
    wait_until(swept, FREED_WITHIN_S, interval_s=0.5, what="a sweep after the sweeper was killed")

    def reaper_lock_free() -> bool:
        with store.lock(reaper_lock, LEASE_TTL_MS) as held:
            return held

    wait_until(reaper_lock_free, FREED_WITHIN_S, interval_s=0.5, what="the reaper lock after a kill")
    assert time.monotonic() - killed_at < FREED_WITHIN_S


def _rules() -> SweepRules:
    return SweepRules(grace_s=5, confirm_s=5, node_lost_s=11, running_ttl_s=9, max_reruns=1)


def _never(*_: object) -> None:
    raise AssertionError("nothing is pending: nothing may be re-run or ended")
