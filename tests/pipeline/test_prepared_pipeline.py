"""Through Celery with the warm pool on (a new user's default): the next proposal claims the sandbox prepared for
it, judges the same, and nothing outlives the worker."""

from __future__ import annotations

from typing import Any

import pytest
from pipeline_helpers import Cluster, sandboxes_of, submit_sample, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]


def _submit(project_id: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(submit_sample(project_id, "prep", changes=changes).get(timeout=180))


def _spare_ready(project_id: str) -> bool:
    names = [n for item in sandboxes_of(project_id) for n in item.get("Names") or []]
    return any(n.startswith("/sigma-spare-") for n in names) and not any(n.startswith("/sigma-prep-") for n in names)


def _create_detail(outcome: dict[str, Any]) -> str:
    return next(s.get("detail") or "" for s in outcome["stages"] if s["name"] == "create")


def test_the_next_proposal_claims_its_prepared_sandbox_and_nothing_outlives_the_worker(
    cluster: Cluster, docker_engine: None, project_id: str, sample_changes: list[dict[str, Any]]
) -> None:
    worker = cluster.worker("nodeP", POOL_SIZE="1", POOL_PREPARED="2")
    first = _submit(project_id, sample_changes)
    assert first["status"] == "executed", first["error"]
    assert "(prepared)" not in _create_detail(first)
    wait_until(lambda: _spare_ready(project_id), 120, what="the project's next sandbox prepared")

    second = _submit(project_id, sample_changes)
    assert second["status"] == "executed", second["error"]
    assert "(prepared)" in _create_detail(second)
    assert second["tests"]["tests_passed"] == first["tests"]["tests_passed"] == 5
    assert second["transitions"] == first["transitions"]
    wait_until(lambda: _spare_ready(project_id), 120, what="prepared again")

    worker.stop(grace_s=60)  # warm shutdown: each process removes its warm and prepared sandboxes
    wait_until(lambda: sandboxes_of(project_id) == [], 30, what="no sandbox of the project left")
