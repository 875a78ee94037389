"""Prepared sandboxes (the warm pool's default for projects): the next proposal's sandbox made ready beforehand,
never holding anything of the sandbox it replaces, claimed once, bound to its project and pipeline."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec import constants as c
from sigma_exec.pool import ROLE_POOL, lease_prefix, leased_pipeline
from sigma_exec.prepared import SPARE_PREFIX
from tests.conftest import SAMPLE

NODE = "test-node"


def _executor() -> DockerExecutor:
    ex = DockerExecutor(Settings(SIGMA_NODE=NODE, POOL_SIZE=1, POOL_PREPARED=2))
    assert ex.available and ex.pool is not None and ex.pool.prepared is not None
    return ex


@pytest.fixture
def prepared() -> Iterator[DockerExecutor]:
    ex = _executor()
    yield ex
    ex.close()


def _wait_prepared(ex: DockerExecutor) -> None:
    assert ex.pool is not None and ex.pool.prepared is not None
    deadline = time.monotonic() + 120
    while ex.pool.prepared.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ex.pool.prepared.pending() == 0, "the next sandbox was not prepared within 120 s"


def _first(ex: DockerExecutor, project_id: str, workspace: Path | str = SAMPLE, pipeline: str = "pipe-1") -> str:
    """A first sandbox (created now), released, and its successor prepared."""
    created = ex.create_project_container(project_id, str(workspace), "python", pipeline_id=pipeline)
    assert created.success and not created.prepared, created.error
    assert ex.stop_container(created.container_id or "")
    _wait_prepared(ex)
    return created.container_id or ""


def test_the_next_sandbox_is_prepared_with_the_workspace_and_claimed(prepared: DockerExecutor, project_id: str) -> None:
    first = _first(prepared, project_id)
    second = prepared.create_project_container(project_id, str(SAMPLE), "python", pipeline_id="pipe-2")
    assert second.success and second.prepared and second.container_id != first
    assert prepared.backend is not None
    found = prepared.backend.inspect(second.container_id or "")
    name = found["Name"].lstrip("/")
    assert name.startswith(lease_prefix(project_id)) and leased_pipeline(name) == "pipe-2"
    labels = found["Config"]["Labels"]
    assert labels[c.LABEL_PROJECT] == project_id and labels[c.LABEL_ROLE] == ROLE_POOL
    assert labels[c.LABEL_NODE] == NODE
    result = prepared.run_tests(second.container_id or "", "python")
    assert (result.tests_passed, result.tests_failed) == (3, 1)  # the sample as it is: divide by zero fails


def test_a_prepared_sandbox_holds_nothing_of_the_one_before(prepared: DockerExecutor, project_id: str) -> None:
    created = prepared.create_project_container(project_id, str(SAMPLE), "python")
    assert created.success
    cid = created.container_id or ""
    planted = prepared.execute_in_container(
        cid,
        "echo A > /workspace/planted; echo 'x = 1' >> /workspace/calc.py; echo A > /tmp/planted; "
        "echo A > /var/tmp/planted; echo A > /dev/shm/planted 2>/dev/null; true",
    )
    assert planted.success
    assert prepared.stop_container(cid)
    _wait_prepared(prepared)
    second = prepared.create_project_container(project_id, str(SAMPLE), "python")
    assert second.success and second.prepared
    probe = prepared.execute_in_container(
        second.container_id or "", "ls -a /workspace /tmp /var/tmp /dev/shm; tail -n 1 /workspace/calc.py"
    )
    assert "planted" not in probe.output and "x = 1" not in probe.output
    assert (SAMPLE / "calc.py").read_text().rstrip().splitlines()[-1] in probe.output


def test_another_project_with_the_same_workspace_never_claims_it(prepared: DockerExecutor, project_id: str) -> None:
    _first(prepared, project_id)
    other = prepared.create_project_container(f"{project_id}-other", str(SAMPLE), "python")
    try:
        assert other.success and not other.prepared
        assert prepared.create_project_container(project_id, str(SAMPLE), "python").prepared
    finally:
        prepared.cleanup_project(f"{project_id}-other")


def test_a_changed_workspace_is_never_served_the_old_one(
    prepared: DockerExecutor, project_id: str, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(SAMPLE, workspace)
    _first(prepared, project_id, workspace)
    (workspace / "calc.py").write_text((workspace / "calc.py").read_text() + "\nMARK = 'host edit'\n")
    second = prepared.create_project_container(project_id, str(workspace), "python")
    assert second.success and not second.prepared
    probe = prepared.execute_in_container(second.container_id or "", "cat calc.py")
    assert "host edit" in probe.output


def test_a_change_applied_after_the_warm_run_is_what_is_tested(prepared: DockerExecutor, project_id: str) -> None:
    """The warm run saw the workspace as it was; a deleted module and a same-size edit are still seen."""
    _first(prepared, project_id)
    second = prepared.create_project_container(project_id, str(SAMPLE), "python")
    assert second.success and second.prepared
    cid = second.container_id or ""
    source = (SAMPLE / "calc.py").read_text()
    assert "a + b" in source
    broken = prepared.apply_changes(cid, [{"filepath": "calc.py", "content": source.replace("a + b", "a - b")}])
    assert broken.success
    result = prepared.run_tests(cid, "python")
    assert result.tests_failed >= 1
    assert prepared.apply_changes(cid, [{"filepath": "calc.py", "delete": True}]).success
    gone = prepared.run_tests(cid, "python")
    assert not gone.success and gone.tests_passed == 0


def test_a_prepared_sandbox_is_claimed_once_across_executors(prepared: DockerExecutor, project_id: str) -> None:
    _first(prepared, project_id)
    assert prepared.backend is not None
    names = prepared.backend.container_names({c.LABEL_PROJECT: project_id})
    spare = next(cid for cid, name in names.items() if name.startswith(SPARE_PREFIX))
    other = DockerExecutor(Settings(SIGMA_NODE=NODE, POOL_SIZE=0))
    results = []

    def claim(ex: DockerExecutor) -> None:
        # an executor without a pool never claims; one with the recipe's name does
        results.append(ex.create_project_container(project_id, str(SAMPLE), "python"))

    rival = _executor()  # a second process's executor: no recipe of its own, but the same names
    try:
        threads = [threading.Thread(target=claim, args=(ex,)) for ex in (prepared, rival)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(results) == 2 and all(r.success for r in results)
        assert results[0].container_id != results[1].container_id
        # the one that was ready went to exactly one claimer (the other may get the next one prepared meanwhile)
        assert [r.container_id for r in results].count(spare) == 1
        assert not other.create_project_container(project_id, str(SAMPLE), "python").prepared
    finally:
        rival.close()


def test_a_leased_sandbox_is_found_by_its_pipeline_and_project(prepared: DockerExecutor, project_id: str) -> None:
    _first(prepared, project_id)
    second = prepared.create_project_container(project_id, str(SAMPLE), "python", pipeline_id="pipe-7f3a")
    assert second.success and second.prepared
    fresh = DockerExecutor(Settings(SIGMA_NODE=NODE, POOL_SIZE=0))  # another process: learns from the engine
    assert "pipe-7f3a" in fresh.sandbox_pipelines(NODE)
    assert fresh._lookup.labels(second.container_id or "")[c.LABEL_PROJECT] == project_id  # hence its policy
    removed = fresh.remove_pipeline_sandboxes("pipe-7f3a")
    assert second.container_id in removed.removed_containers


def test_cleanup_project_and_close_remove_prepared_sandboxes(project_id: str) -> None:
    ex = _executor()
    _first(ex, project_id)
    assert ex.backend is not None
    labels = {c.LABEL_MANAGED: "1", c.LABEL_PROJECT: project_id}
    names = set(ex.backend.container_names(labels).values())
    assert any(n.startswith(SPARE_PREFIX) for n in names)
    result = ex.cleanup_project(project_id)
    assert result.success and result.removed_containers
    assert not ex.backend.container_names(labels)
    _first(ex, project_id, pipeline="pipe-9")
    assert ex.backend.container_names(labels)
    ex.close()
    assert not ex.backend.container_names(labels)


def test_a_proposal_arriving_while_its_sandbox_is_prepared_waits_for_it(project_id: str) -> None:
    """Back to back, the next create does not start a cold sandbox beside the one being prepared for it."""
    ex = _executor()
    try:
        created = ex.create_project_container(project_id, str(SAMPLE), "python")
        assert created.success
        assert ex.stop_container(created.container_id or "")  # preparation starts now
        second = ex.create_project_container(project_id, str(SAMPLE), "python")
        assert second.success and second.prepared
    finally:
        ex.close()


def test_a_preparation_whose_preparer_died_is_not_waited_for(project_id: str) -> None:
    """An orphaned `sigma-prep-*` (its process killed mid-preparation) is removed, not waited on for minutes."""
    from sigma_exec.prepared import PREP_PREFIX
    from sigma_exec.spec import build_container_spec

    ex = _executor()
    try:
        created = ex.create_project_container(project_id, str(SAMPLE), "python")
        assert created.success and ex.stop_container(created.container_id or "")
        _wait_prepared(ex)
        assert ex.backend is not None and ex.pool is not None and ex.pool.prepared is not None
        spare = next(n for n in ex.backend.container_names({c.LABEL_PROJECT: project_id}).values())
        key = spare.removeprefix(SPARE_PREFIX)
        labels = {c.LABEL_MANAGED: "1", c.LABEL_PROJECT: project_id, c.LABEL_NODE: NODE, c.LABEL_CREATED_AT: "1"}
        spec = build_container_spec(
            ex.settings, image=created.image or "", project_id=project_id, language="python", env={}
        )
        ex.backend.remove(spare)  # what is left: a preparation from 1970 whose preparer is gone
        orphan = ex.backend.create_container(spec.model_copy(update={"name": PREP_PREFIX + key, "labels": labels}))
        ex.pool.prepared.close()  # this process prepares nothing more: only the orphan is there
        started = time.monotonic()
        assert ex.pool.prepared.claim(key, f"claim-{project_id}", wait_s=300) is None
        assert time.monotonic() - started < 60
        assert not ex.backend.container_names({c.LABEL_PROJECT: project_id})
        ex.backend.remove(orphan)
    finally:
        ex.close()
        ex.cleanup_project(project_id)


LEAVER = """
import sys, time
from sigma_exec import DockerExecutor, Settings
ex = DockerExecutor(Settings(SIGMA_NODE=sys.argv[3], POOL_SIZE=1, POOL_PREPARED=2))
created = ex.create_project_container(sys.argv[1], sys.argv[2], "python")
assert created.success and ex.stop_container(created.container_id or "")
deadline = time.monotonic() + 120
while ex.pool.prepared.pending() and time.monotonic() < deadline:
    time.sleep(0.05)
print("prepared" if not ex.pool.prepared.pending() else "not prepared", flush=True)
"""  # ... and the script ends without ex.close()


def test_a_script_that_never_closes_its_executor_leaves_no_sandbox_behind(project_id: str) -> None:
    """Regression: a prepared sandbox outlived the process that prepared it (until its TTL, 2 h)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    ran = subprocess.run(
        [sys.executable, "-c", LEAVER, project_id, str(SAMPLE), NODE],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    assert ran.returncode == 0 and ran.stdout.strip() == "prepared", ran.stderr[-2000:]
    ex = DockerExecutor(Settings(SIGMA_NODE=NODE, POOL_SIZE=0))
    try:
        assert ex.backend is not None
        assert ex.backend.container_names({c.LABEL_PROJECT: project_id}) == {}
    finally:
        ex.cleanup_project(project_id)
