"""Shared fixtures: a real Docker engine, unique project ids, cleanup by label."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec import constants as c

# The suite's executors and workers keep no warm or prepared sandboxes unless a test asks for them: tests count
# the containers of their projects and nodes, and a pool's background containers would be counted too.
# The pool's own tests (tests/integration/test_pool.py, test_prepared.py) turn it on.
os.environ.setdefault("POOL_SIZE", "0")
os.environ.setdefault("POOL_PREPARED", "0")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample_project"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(SIGMA_NODE="test-node")


@pytest.fixture(scope="session")
def executor(settings: Settings) -> DockerExecutor:
    ex = DockerExecutor(settings)
    assert ex.available, f"a real Docker engine is required: {ex.unavailable_reason}"
    return ex


@pytest.fixture
def project_id() -> Iterator[str]:
    """A unique project id; every container carrying it is removed afterwards."""
    pid = f"t-{uuid.uuid4().hex[:10]}"
    yield pid
    ex = DockerExecutor(Settings(SIGMA_NODE="test-node"))
    if ex.available:
        ex.cleanup_project(pid)


@pytest.fixture
def sandbox(executor: DockerExecutor, project_id: str) -> Callable[..., str]:
    """Factory: create a project container from a workspace and return its id."""

    def make(workspace: Path | str = SAMPLE, language: str = "python") -> str:
        ok, cid, err = executor.create_project_container(project_id, str(workspace), language)
        assert ok, err
        assert cid is not None
        return cid

    return make


def labelled_containers(executor: DockerExecutor, project: str) -> list[dict]:
    assert executor.backend is not None
    return executor.backend.list_containers({c.LABEL_MANAGED: "1", c.LABEL_PROJECT: project})


def build_leftovers(executor: DockerExecutor, project: str) -> list[dict]:
    """This project's dependency-install sandboxes still there (others may be building at the same time)."""
    assert executor.backend is not None
    labels = {c.LABEL_MANAGED: "1", c.LABEL_ROLE: c.ROLE_DEPS_BUILD, c.LABEL_PROJECT: project}
    return executor.backend.list_containers(labels)


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:  # shared by tests/integration and tests/pipeline
    """A real registry (Debian's docker-registry) on loopback."""
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is installed by scripts/ensure-system.sh"
    port = free_loopback_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "
        f"{tmp_path / 'data'}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
