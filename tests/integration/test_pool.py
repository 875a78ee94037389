"""The warm pool: fast leases that never see another lease's data."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec import constants as c
from sigma_exec.executor import lease_prefix
from sigma_exec.pool import ROLE_POOL
from tests.conftest import SAMPLE


@pytest.fixture
def pooled(settings: Settings):
    ex = DockerExecutor(Settings(SIGMA_NODE="test-node", POOL_SIZE=2))
    assert ex.available and ex.pool is not None
    yield ex
    ex.close()


def _warm(ex: DockerExecutor, project_id: str) -> None:
    """Lease once so the pool learns the spec, then wait until it is full again."""
    ok, cid, err = ex.create_project_container(project_id, str(SAMPLE), "python")
    assert ok, err
    ex.stop_container(cid)
    assert ex.pool is not None
    spec_key_ready = any(ex.pool.wait_ready(spec, 60) for spec in ex.pool._specs.values())
    assert spec_key_ready


def test_a_lease_never_sees_files_processes_or_environment_of_the_previous_one(pooled, project_id: str) -> None:
    _warm(pooled, project_id)
    ok, first, _ = pooled.create_project_container(project_id, str(SAMPLE), "python")
    assert ok
    planted = pooled.execute_in_container(
        first,
        "echo A > /workspace/planted; echo A > /tmp/planted; echo A > /var/tmp/planted; "
        "echo A > /dev/shm/planted 2>/dev/null; export LEAK=1; echo 'LEAK=1' >> /tmp/home.env; true",
    )
    assert planted.success
    pooled.stop_container(first)
    ok, second, _ = pooled.create_project_container(f"{project_id}-b", str(SAMPLE), "python")
    try:
        assert ok and second != first
        probe = pooled.execute_in_container(
            second, "ls /workspace /tmp /var/tmp /dev/shm; env; for p in /proc/[0-9]*; do cat $p/cmdline; echo; done"
        )
        assert "planted" not in probe.output and "LEAK" not in probe.output
        assert sorted(probe.output.split("\n")[0:1]) != ["planted"]
    finally:
        pooled.cleanup_project(f"{project_id}-b")


def test_pooled_leases_are_found_by_cleanup_project(pooled, project_id: str) -> None:
    _warm(pooled, project_id)
    ok, cid, _ = pooled.create_project_container(project_id, str(SAMPLE), "python")
    assert ok
    assert pooled.backend is not None
    name = pooled.backend.inspect(cid)["Name"].lstrip("/")
    assert name.startswith(lease_prefix(project_id))
    labels = pooled.backend.inspect(cid)["Config"]["Labels"]
    assert labels[c.LABEL_MANAGED] == "1" and labels[c.LABEL_ROLE] == ROLE_POOL and c.LABEL_EXPIRES_AT in labels
    assert pooled.run_tests(cid, "python").tests_passed == 3
    result = pooled.cleanup_project(project_id)
    assert cid in result.removed_containers


def test_closing_the_pool_removes_its_idle_containers(project_id: str, tmp_path: Path) -> None:
    ex = DockerExecutor(Settings(SIGMA_NODE="test-node", POOL_SIZE=1))
    _warm(ex, project_id)
    assert ex.backend is not None
    idle = ex.backend.list_containers({c.LABEL_ROLE: ROLE_POOL, c.LABEL_NODE: "test-node"})
    assert idle
    ex.close()
    left = {item["Id"] for item in ex.backend.list_containers({c.LABEL_ROLE: ROLE_POOL, c.LABEL_NODE: "test-node"})}
    assert not left & {item["Id"] for item in idle}


def test_a_snippet_runs_in_a_fresh_pooled_sandbox_that_is_then_discarded(pooled) -> None:
    first = pooled.run_snippet("python", "echo planted > /tmp/mark; python3 -c 'print(6*7)'")
    assert first.success and first.output.strip() == "42"
    second = pooled.run_snippet("py", "ls /tmp; id -u")
    assert second.success and "mark" not in second.output and second.output.split()[-1] == "1000"
    assert pooled.run_snippet("cobol", "true").error.startswith("unknown language 'cobol'")


def test_a_snippet_without_a_pool_leaves_nothing_behind(executor: DockerExecutor) -> None:
    assert executor.backend is not None
    before = {c["Id"] for c in executor.backend.list_containers({"sigma.managed": "1"})}
    result = executor.run_snippet("python", "echo ran; exit 3")
    assert result.exit_code == 3 and result.success is False and result.output.strip() == "ran"
    after = {c["Id"] for c in executor.backend.list_containers({"sigma.managed": "1"})}
    assert after <= before  # the snippet's sandbox is gone
