"""A project's own Dockerfile, when settings allow it; the sandbox profile still applies."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sigma_exec import DockerExecutor, Settings

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "py_dockerfile"


def test_an_allowed_dockerfile_is_built_once_and_cannot_weaken_the_sandbox(tmp_path: Path, project_id: str) -> None:
    ex = DockerExecutor(Settings(SIGMA_NODE="test-node", ALLOW_PROJECT_DOCKERFILE=True))
    workspace = tmp_path / "proj"
    shutil.copytree(SAMPLE, workspace)
    (workspace / "run-id.txt").write_text(uuid.uuid4().hex)  # a fresh context: this run really builds
    seen: list[str] = []
    ok, cid, err = ex.create_project_container(project_id, str(workspace), "python", progress=seen.append)
    assert ok, err
    assert any(".sigma/Dockerfile" in m for m in seen)
    tests = ex.run_tests(cid, "python")
    assert (tests.tests_passed, tests.tests_failed) == (1, 0), tests.output
    assert ex.execute_in_container(cid, "id -u").output.strip() == "1000"
    host = ex.backend.inspect(cid)["HostConfig"]  # type: ignore[union-attr]
    assert host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] and not host.get("PortBindings")
    again: list[str] = []
    second = ex.create_project_container(project_id, str(workspace), "python", progress=again.append)
    assert second.success and not any("building" in m for m in again)
    ex.cleanup_project(project_id)
    ex.backend.remove_image(second.image or "")  # type: ignore[union-attr]


def test_a_dockerfile_is_ignored_unless_settings_allow_it(executor: DockerExecutor, sandbox) -> None:
    assert executor.settings.ALLOW_PROJECT_DOCKERFILE is False
    cid = sandbox(SAMPLE)
    tests = executor.run_tests(cid, "python")
    # Without the Dockerfile's layer the import fails at collection: an errored run, not zeros.
    assert (tests.tests_passed, tests.tests_failed, tests.tests_errored, tests.success) == (0, 0, 1, False)
