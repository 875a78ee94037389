"""Two reapers at once (two beats happen): no error, and only what should go goes.

Both the locked path (`tasks.reaping.reap_node`, twice) and the unlocked primitive
(`sigma_exec.reaper.reap`, twice) run concurrently over the same node.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import RedisServer, new_run_id
from pipeline_helpers import SAMPLE_PROJECT, wait_until

from sigma_exec import DockerExecutor, Settings

pytestmark = [pytest.mark.docker, pytest.mark.redis]
LATER_S = 600  # reap as if 10 minutes had passed: the 60 s sandboxes have expired, the 2 h ones not


def _sandbox(node: str, project: str, ttl_s: int, pipeline_id: str) -> str:
    ex = DockerExecutor(Settings(SIGMA_NODE=node, CONTAINER_TTL_SECONDS=ttl_s))
    ok, cid, err = ex.create_project_container(project, Path(SAMPLE_PROJECT), "python", pipeline_id=pipeline_id)
    assert ok and cid, err
    return cid


def test_two_concurrent_reapers_remove_only_what_is_reapable(own_redis: RedisServer, projects: list[str]) -> None:
    from sigma_exec.docker_backend import DockerBackend
    from sigma_exec.reaper import reap
    from tasks.reaping import reap_node
    from tasks.store import PipelineStore

    run = new_run_id()
    node = f"reap-{run}"
    projects.extend(f"rp-{run}-{k}" for k in ("expired", "fresh", "live", "ended"))
    store = PipelineStore.from_url(own_redis.url)
    # Given four sandboxes on one node
    expired = _sandbox(node, projects[0], 60, f"pl-expired-{run}")
    fresh = _sandbox(node, projects[1], 7200, f"pl-fresh-{run}")
    live = _sandbox(node, projects[2], 60, f"pl-live-{run}")  # expired, but its pipeline holds a lease
    ended = _sandbox(node, projects[3], 7200, f"pl-ended-{run}")  # fresh, but its pipeline finished
    store.move(f"pl-live-{run}", 0, 3600, stage="test")
    store.finish(f"pl-ended-{run}", f"prop-ended-{run}", {"status": "executed"}, 3600)

    # When two locked and two unlocked reapers run at the same moment
    now = time.time() + LATER_S
    reports: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(4)

    def locked() -> None:
        gate.wait(10)
        reports.append(reap_node(node, store=store, now=now))

    def unlocked() -> None:
        gate.wait(10)
        backend = DockerBackend()
        live_set, dead_set = store.pipeline_liveness([f"pl-{k}-{run}" for k in ("expired", "fresh", "live", "ended")])
        reports.append(reap(backend, node=node, now=now, live_pipelines=live_set, dead_pipelines=dead_set).model_dump())

    def guarded(fn: Any) -> Any:
        def body() -> None:
            try:
                fn()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        return body

    threads = [threading.Thread(target=guarded(fn)) for fn in (locked, locked, unlocked, unlocked)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    # Then nothing failed, and exactly the expired and the ended sandboxes are gone
    assert errors == [] and len(reports) == 4
    assert [r["errors"] for r in reports] == [[], [], [], []]
    removed = {cid for r in reports for cid in r["removed"]}
    assert removed == {expired, ended}
    assert sum(len(r["removed"]) for r in reports) == 2  # each removal counted once, by whoever won
    backend = DockerBackend()
    left = {c["Id"] for c in backend.list_containers({"sigma.node": node})}
    assert left == {fresh, live}


def test_two_beat_processes_at_once_cause_no_error(own_redis: RedisServer, fault_cluster: Any) -> None:
    """Two `celery -A tasks beat` (same directory) and a worker: every reap runs, none fails.

    Regression: with Celery's default persistent scheduler both beats shared one `celerybeat-schedule`
    shelve (dbm.dumb: not safe for two writers); now beat keeps its schedule in memory.
    """
    from tasks.store import PipelineStore

    store = PipelineStore.from_url(own_redis.url)
    node = f"beat2-{new_run_id()}"
    worker = fault_cluster.worker(node, REAPER_INTERVAL_SECONDS="10")
    beats = [fault_cluster.spawn(f"beat{i}", ["beat", "--loglevel=INFO"], REAPER_INTERVAL_SECONDS="10") for i in (1, 2)]

    def scheduled_reap() -> dict[str, Any] | None:
        report = store.last_reaps().get(node)
        return report if report and report["reason"] == "schedule" else None

    report = wait_until(scheduled_reap, 120, interval_s=0.5, what="a scheduled reap of the node")
    wait_until(
        lambda: all("Sending due task" in b.text() or not b.alive() for b in beats), 90, what="both beats to send"
    )
    assert not list(fault_cluster.workdir.glob("celerybeat-schedule*"))  # nothing on disk to share
    assert report["errors"] == []
    for proc in [*beats, worker]:
        assert proc.alive(), proc.text()[-2000:]
        assert "Traceback" not in proc.text() and " ERROR/" not in proc.text(), proc.text()[-2000:]
