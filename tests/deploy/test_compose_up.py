"""docker-compose brought up for real: Redis, a worker, beat and Flower from images built here (no registry).

Runs with `make compose-test` (SIGMA_COMPOSE_TEST=1): it builds the offline images
(`scripts/build-compose-images.sh`), brings the stack up under its own project name, submits a proposal
from the host through the stack's Redis with `sigma-exec submit --wait`, reads it back from Flower's API
(basic auth; without it: 401), and takes everything down again.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.environ.get("SIGMA_COMPOSE_TEST") != "1", reason="run by `make compose-test`"),
]
REPO = Path(__file__).resolve().parents[2]
FILES = ["-f", str(REPO / "docker-compose.yml"), "-f", str(REPO / "docker-compose.offline.yml")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


class Stack:
    def __init__(self, workspaces: Path) -> None:
        self.name = f"sigma-ct-{uuid.uuid4().hex[:8]}"
        self.node = f"compose-{uuid.uuid4().hex[:6]}"
        self.redis_port, self.flower_port = free_port(), free_port()
        self.auth = f"ops:{uuid.uuid4().hex[:12]}"
        self.env = {
            **os.environ,
            "SIGMA_NODE": self.node,
            "SIGMA_WORKSPACES": str(workspaces),
            "SIGMA_REDIS_PORT": str(self.redis_port),
            "SIGMA_FLOWER_PORT": str(self.flower_port),
            "FLOWER_BASIC_AUTH": self.auth,
        }

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = ["docker-compose", "-p", self.name, "--env-file", str(REPO / ".run" / "compose.env"), *FILES, *args]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)

    def flower(self, path: str, auth: bool = True) -> object:
        request = urllib.request.Request(f"http://127.0.0.1:{self.flower_port}{path}")
        if auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(self.auth.encode()).decode())
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    built = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-compose-images.sh")], capture_output=True, timeout=1200
    )
    assert built.returncode == 0, built.stderr.decode()[-3000:]
    workspaces = tmp_path / "workspaces"
    workspaces.mkdir()
    made = Stack(workspaces)
    try:
        up = made.compose("up", "-d")
        assert up.returncode == 0, up.stderr[-3000:]
        yield made
    finally:
        print(made.compose("logs", "--tail", "40", "worker").stdout[-4000:])
        made.compose("down", "-v", "--remove-orphans", "--timeout", "20")


def test_compose_up_runs_a_proposal_submitted_from_the_host_and_flower_lists_it(stack: Stack, tmp_path: Path) -> None:
    workspace = Path(stack.env["SIGMA_WORKSPACES"]) / "project"
    shutil.copytree(REPO / "examples" / "sample_project", workspace)
    wait_for(lambda: "ready." in stack.compose("logs", "worker").stdout, 120, "the worker to be ready")

    env = {**stack.env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{stack.redis_port}/0"}
    env["CELERY_RESULT_BACKEND"] = env["CELERY_BROKER_URL"]
    cli = str(Path(sys.executable).with_name("sigma-exec"))
    argv = [cli, "submit", str(workspace), "-l", "python", "--project-id", stack.name, "--json", "--wait"]
    argv += ["--changes", str(REPO / "examples" / "sample_changes.json"), "--timeout", "300"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=400, check=False)
    outcome = json.loads(done.stdout)
    assert done.returncode == 0 and outcome["status"] == "executed", done.stderr[-2000:]
    assert outcome["node"] == stack.node  # it ran in the stack's worker

    def listed() -> bool:
        try:
            tasks = stack.flower("/api/tasks?limit=100")
        except OSError:
            return False
        return any(f"proposal={outcome['proposal_id']}" in (t.get("args") or "") for t in tasks.values())  # type: ignore[attr-defined]

    wait_for(listed, 60, "Flower's API to list the proposal")
    with pytest.raises(urllib.error.HTTPError) as refused:
        stack.flower("/api/tasks", auth=False)
    assert refused.value.code == 401
