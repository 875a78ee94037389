"""The warm pool: fast leases that never see another lease's data."""

from __future__ import annotations

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec import constants as c
from sigma_exec.pool import ROLE_POOL
from tests.conftest import SAMPLE


@pytest.fixture
def pooled(settings: Settings):
    ex = DockerExecutor(Settings(SIGMA_NODE="test-node", POOL_SIZE=2))
    assert ex.available and ex.pool is not None
    yield ex
    ex.close()


def _warm(ex: DockerExecutor) -> None:
    """Run a snippet so the pool learns the blank sandbox's spec, then wait until it is full again."""
    assert ex.run_snippet("python", "true").success
    assert ex.pool is not None
    assert any(ex.pool.wait_ready(spec, 60) for spec in ex.pool._specs.values())


def test_a_pooled_sandbox_never_sees_files_processes_or_environment_of_the_previous_one(pooled) -> None:
    _warm(pooled)
    planted = pooled.run_snippet(
        "python",
        "echo A > /workspace/planted; echo A > /tmp/planted; echo A > /var/tmp/planted; "
        "echo A > /dev/shm/planted 2>/dev/null; echo 'LEAK=1' >> /tmp/home.env; (sleep 300 &) ; true",
    )
    assert planted.success
    probe = pooled.run_snippet(
        "python", "ls /workspace /tmp /var/tmp /dev/shm; env; for p in /proc/[0-9]*; do cat $p/cmdline; echo; done"
    )
    assert probe.success and "planted" not in probe.output and "LEAK" not in probe.output
    assert "sleep300" not in probe.output.replace("\x00", "")


def test_a_project_sandbox_is_labelled_for_its_project_not_leased_blank(pooled, project_id: str) -> None:
    """A blank pooled container is labelled for no project: a stage in another process would not find the
    project's policy. Project sandboxes are created for their project (or prepared for it: test_prepared.py)."""
    _warm(pooled)
    ok, cid, _ = pooled.create_project_container(project_id, str(SAMPLE), "python")
    assert ok
    assert pooled.backend is not None
    labels = pooled.backend.inspect(cid)["Config"]["Labels"]
    assert labels[c.LABEL_PROJECT] == project_id and labels.get(c.LABEL_ROLE) != ROLE_POOL
    assert pooled.run_tests(cid, "python").tests_passed == 3
    result = pooled.cleanup_project(project_id)
    assert cid in result.removed_containers


def test_closing_the_pool_removes_its_idle_containers() -> None:
    ex = DockerExecutor(Settings(SIGMA_NODE="test-node", POOL_SIZE=1))
    _warm(ex)
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
