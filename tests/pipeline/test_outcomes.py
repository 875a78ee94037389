"""A real worker runs whole proposals: executed, rejected, invalid changes; progress and status."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import SAMPLE_PROJECT, Cluster, sandboxes_of

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]
STAGES = ["create", "baseline", "apply", "test", "build", "cleanup"]


@pytest.fixture(scope="module")
def node_a(module_cluster: Cluster, docker_engine: None) -> Cluster:
    module_cluster.worker("nodeA")
    return module_cluster


def submit(project_id: str, changes: list[dict[str, Any]], proposal_id: str | None = None, **extra: Any) -> Any:
    from tasks import submit_proposal

    return submit_proposal(
        proposal_id=proposal_id or f"prop-{uuid.uuid4().hex[:10]}",
        project_id=project_id,
        workspace=str(SAMPLE_PROJECT),
        language="python",
        changes=changes,
        **extra,
    )


def test_a_good_proposal_is_executed_with_every_stage_on_one_node(
    node_a: Cluster, project_id: str, sample_changes: list[dict[str, Any]]
) -> None:
    from tasks import follow, status

    result = submit(project_id, sample_changes)
    seen: list[str] = []
    outcome = follow(result, lambda info: seen.append(info["stage"]), poll_s=0.05, timeout_s=120)

    assert outcome == result.get(timeout=5)
    assert outcome["status"] == "executed", outcome["error"]
    assert outcome["tests"]["tests_passed"] == 5
    assert outcome["tests"]["tests_skipped"] == 1
    assert outcome["build"]["success"] is True
    assert [s["name"] for s in outcome["stages"]] == STAGES
    assert {s["node"] for s in outcome["stages"]} == {"nodeA"} and outcome["node"] == "nodeA"
    assert {"started_at", "duration_s", "ok"} <= set(outcome["stages"][0])
    assert "test" in seen and seen == sorted(set(seen), key=STAGES.index)
    assert status(outcome["proposal_id"]) == outcome
    assert sandboxes_of(project_id) == []


def test_the_sample_without_changes_is_rejected_because_a_test_fails(node_a: Cluster, project_id: str) -> None:
    outcome = submit(project_id, []).get(timeout=120)

    assert outcome["status"] == "rejected"
    assert outcome["tests"]["tests_failed"] == 1
    assert "tests failed" in outcome["error"]
    assert outcome["stages"][-1]["name"] == "cleanup"
    assert sandboxes_of(project_id) == []


def test_a_change_escaping_the_workspace_is_refused_before_it_is_queued(node_a: Cluster, project_id: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"(?s)changes\.0.*contains '\.\.'"):
        submit(project_id, [{"filepath": "../x", "content": "boom"}])
    assert sandboxes_of(project_id) == []


def test_a_link_escaping_the_workspace_is_refused_in_the_sandbox_and_leaves_no_container(
    node_a: Cluster, project_id: str, tmp_path: Path
) -> None:
    from tasks import submit_proposal

    (tmp_path / "calc.py").write_text("x = 1\n")
    (tmp_path / "out").symlink_to("/etc")
    outcome = submit_proposal(
        proposal_id=f"prop-{uuid.uuid4().hex[:10]}",
        project_id=project_id,
        workspace=str(tmp_path),
        language="python",
        changes=[{"filepath": "out/passwd", "content": "boom"}],
    ).get(timeout=120)

    assert outcome["status"] == "rejected", outcome
    assert "out" in outcome["error"] and "leaves /workspace" in outcome["error"]
    assert outcome["tests"] is None
    assert [s["name"] for s in outcome["stages"]] == ["create", "baseline", "apply", "cleanup"]
    assert sandboxes_of(project_id) == []


def test_status_knows_nothing_of_an_unknown_proposal(node_a: Cluster) -> None:
    from tasks import status

    assert status(f"never-{uuid.uuid4().hex}") is None


def test_status_shows_a_running_proposal_and_then_its_outcome(node_a: Cluster, project_id: str) -> None:
    from pipeline_helpers import wait_until

    from tasks import status

    pid = f"prop-{uuid.uuid4().hex[:10]}"
    result = submit(project_id, [], proposal_id=pid, test_command="sleep 3")
    running = wait_until(
        lambda: (now := status(pid) or {}).get("stage") == "test" and now.get("status") == "running" and now,
        30,
        what="test stage",
    )
    assert running["node"] == "nodeA" and running["attempt"] == 0

    outcome = result.get(timeout=60)
    assert status(pid) == outcome
    assert sandboxes_of(project_id) == []


def test_transitions_are_in_the_outcome_and_a_baseline_is_shared_through_redis(
    node_a: Cluster, project_ids: Any, sample_changes: list[dict[str, Any]], redis_url: str
) -> None:
    import redis

    first = submit(project_ids(), sample_changes).get(timeout=180)
    second = submit(project_ids(), sample_changes).get(timeout=180)

    assert first["status"] == second["status"] == "executed", (first["reasons"], second["reasons"])
    assert first["transitions"]["fixed"] == ["tests/test_calc.py::test_divide"]
    assert first["transitions"]["broken"] == first["transitions"]["removed"] == []
    assert second["transitions"] == first["transitions"]
    assert second["baseline"]["cached"] is True and second["baseline"]["tests_failed"] == 1
    assert [s["detail"] for s in second["stages"] if s["name"] == "baseline"] == ["cached"]
    assert redis.Redis.from_url(redis_url).keys("sigma:baseline:*") != []
