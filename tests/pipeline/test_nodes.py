"""Two nodes share one Redis: stages stay on the container's node; beat reaps on every node."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pipeline_helpers import SAMPLE_PROJECT, Cluster, sandboxes_of, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]
PIPELINES = 8


def test_every_stage_of_a_pipeline_runs_on_the_node_that_created_its_container(
    cluster: Cluster, docker_engine: None, project_ids: Any, sample_changes: list[dict[str, Any]]
) -> None:
    from tasks import submit_proposal

    cluster.worker("nodeA")
    cluster.worker("nodeB")
    submitted = []
    for _ in range(PIPELINES):
        project_id = project_ids()
        result = submit_proposal(
            proposal_id=f"prop-{uuid.uuid4().hex[:10]}",
            project_id=project_id,
            workspace=str(SAMPLE_PROJECT),
            language="python",
            changes=sample_changes,
            test_command="sleep 1 && python3 -m pytest -q",
        )
        submitted.append((project_id, result))

    outcomes = [result.get(timeout=180) for _, result in submitted]

    for outcome in outcomes:
        assert outcome["status"] == "executed", outcome["error"]
        assert [s["name"] for s in outcome["stages"]] == ["create", "baseline", "apply", "test", "build", "cleanup"]
        assert {s["node"] for s in outcome["stages"]} == {outcome["node"]}
    assert {o["node"] for o in outcomes} == {"nodeA", "nodeB"}, "both nodes should have taken proposals"
    assert all(sandboxes_of(project_id) == [] for project_id, _ in submitted)


def test_beat_sends_a_reap_task_to_each_registered_node_and_workers_sweep_at_start(cluster: Cluster) -> None:
    from tasks import runtime

    store = runtime.store()
    cluster.worker("nodeA")
    cluster.worker("nodeB")
    at_start = wait_until(lambda: len(store.last_reaps()) == 2 and store.last_reaps(), 30, what="start-up sweeps")
    assert {r["reason"] for r in at_start.values()} == {"worker start"}
    assert set(store.known_nodes(3600)) >= {"nodeA", "nodeB"}

    cluster.spawn("beat", ["beat", "--loglevel=INFO"], REAPER_INTERVAL_SECONDS="10")

    def scheduled() -> dict[str, Any] | None:
        reaps = store.last_reaps()
        return reaps if {r["reason"] for r in reaps.values()} == {"schedule"} and len(reaps) == 2 else None

    reaps = wait_until(scheduled, 45, interval_s=0.5, what="a scheduled reap on both nodes")
    assert set(reaps) == {"nodeA", "nodeB"}
    assert all(not r["errors"] for r in reaps.values())


def test_a_drained_node_finishes_what_it_holds_takes_nothing_new_and_reports_empty(
    cluster: Cluster, docker_engine: None, project_ids: Any
) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    from pipeline_helpers import stage_running, submit_sample

    # Given node B running a slow pipeline
    node_b = cluster.worker("nodeB", name="b")
    held = submit_sample(project_ids(), "drain", test_command="sleep 4; echo slow")
    wait_until(lambda: stage_running(held.id, "baseline"), 60, what="the pipeline on nodeB")

    # When B is drained (the CLI waits for it to empty) while new proposals arrive and A is up
    cli = str(Path(sys.executable).with_name("sigma-exec"))
    draining = subprocess.Popen(
        [cli, "node", "drain", "nodeB", "--timeout", "120"], env=cluster.env(), stdout=subprocess.PIPE, text=True
    )
    from tasks import runtime

    wait_until(lambda: runtime.store().draining("nodeB"), 20, what="nodeB marked draining")
    time.sleep(1)  # the workers' control replies
    node_a = cluster.worker("nodeA", name="a")
    new = [submit_sample(project_ids(), "after-drain") for _ in range(2)]

    # Then what B held finishes there, everything new runs on A, and the drain reports B empty
    assert held.get(timeout=120)["node"] == "nodeB"
    assert {r.get(timeout=120)["node"] for r in new} == {"nodeA"}
    out, _ = draining.communicate(timeout=60)
    report = json.loads(out)
    assert draining.returncode == 0 and report["empty"] is True, report
    assert report["in_flight_at_start"] == [held.id] and report["workers"], report
    assert all(r.id not in node_b.text() for r in new) and node_a.alive()

    # And a worker of B that starts while it drains takes nothing new either; resume undoes it
    restarted = cluster.worker("nodeB", name="b2")
    assert "is draining" in restarted.text()
    resumed = subprocess.run([cli, "node", "resume", "nodeB"], env=cluster.env(), capture_output=True, timeout=60)
    assert resumed.returncode == 0 and not runtime.store().draining("nodeB")


def test_a_worker_sent_term_finishes_the_pipelines_placed_on_its_node_then_exits(
    cluster: Cluster, docker_engine: None, project_ids: Any
) -> None:
    import os
    import signal

    from pipeline_helpers import stage_running, submit_sample

    # Given node B in the middle of a slow pipeline, and node A up
    node_b = cluster.worker("nodeB", name="b", DRAIN_GRACE_SECONDS="60")
    held = submit_sample(project_ids(), "term", test_command="sleep 3; echo slow")
    wait_until(lambda: stage_running(held.id, "baseline"), 60, what="the pipeline on nodeB")
    node_a = cluster.worker("nodeA", name="a")

    # When B's worker is sent TERM (as `docker stop` or systemd would)
    os.kill(node_b.popen.pid, signal.SIGTERM)
    wait_until(lambda: "takes no new pipeline" in node_b.text(), 10, what="B to start draining")
    new = submit_sample(project_ids(), "after-term")

    # Then the pipeline placed on B finishes there (its later stages included), new work goes to A, B exits
    outcome = held.get(timeout=90)
    assert outcome["status"] == "executed" and {s["node"] for s in outcome["stages"]} == {"nodeB"}, outcome
    assert new.get(timeout=90)["node"] == "nodeA"
    assert node_b.popen.wait(timeout=60) == 0
    assert "TERM drain of node nodeB done" in node_b.text() and node_a.alive()
