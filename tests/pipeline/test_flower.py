"""Flower shows a pipeline's stages: `celery -A tasks flower` and its /api/tasks."""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from typing import Any

import pytest
from pipeline_helpers import SAMPLE_PROJECT, Cluster, free_port, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]
# create is replaced by the chain whose last task (cleanup) inherits its id: one entry for both.
STAGE_TASKS = ["sigma.apply", "sigma.test", "sigma.build", "sigma.cleanup"]


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def reachable(url: str) -> bool:
    try:
        get_json(url)
        return True
    except OSError:
        return False


def test_flower_lists_every_stage_of_a_finished_pipeline(
    cluster: Cluster, docker_engine: None, project_id: str, sample_changes: list[dict[str, Any]]
) -> None:
    from tasks import submit_proposal

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cluster.spawn("flower", ["flower", f"--port={port}", "--address=127.0.0.1"], FLOWER_UNAUTHENTICATED_API="true")
    wait_until(lambda: reachable(f"{base}/api/workers?refresh=false"), 40, what="flower to listen")
    cluster.worker("nodeF")

    result = submit_proposal(
        proposal_id=f"prop-{uuid.uuid4().hex[:10]}",
        project_id=project_id,
        workspace=str(SAMPLE_PROJECT),
        language="python",
        changes=sample_changes,
    )
    assert result.get(timeout=120)["status"] == "executed"

    def pipeline_tasks() -> dict[str, dict[str, Any]] | None:
        tasks = get_json(f"{base}/api/tasks?limit=200")
        mine = {t["name"]: t for t in tasks.values() if result.id in (t.get("root_id"), t.get("uuid"))}
        done = all(mine.get(name, {}).get("state") == "SUCCESS" for name in STAGE_TASKS)
        return mine if done else None

    mine = wait_until(pipeline_tasks, 20, interval_s=0.5, what="flower to see the pipeline's tasks")
    assert {mine[name]["worker"] for name in STAGE_TASKS} == {f"w1-nodeF@{socket.gethostname()}"}
    assert {mine[name]["routing_key"] for name in STAGE_TASKS} == {"node.nodeF"}
    assert mine["sigma.cleanup"]["uuid"] == result.id
