"""Helpers of the pipeline tests: processes, polling, sandbox look-ups (used by conftest and tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PROJECT = REPO / "examples" / "sample_project"
SAMPLE_CHANGES = REPO / "examples" / "sample_changes.json"
CELERY = str(Path(sys.executable).with_name("celery"))
WORKER_READY_S = 40.0
# Small limits for workers of reliability tests: an abandoned message comes back in seconds, not minutes.
SMALL_TIME_LIMITS = {
    "TEST_TIMEOUT": "10",
    "BUILD_TIMEOUT": "5",  # the tests with the build after them: 10 + 5 + 5 s of grace = the soft limit
    "CELERY_SOFT_TIME_LIMIT": "20",
    "CELERY_TIME_LIMIT": "25",
    "CELERY_RETRY_BACKOFF_MAX": "2",
    "CELERY_VISIBILITY_TIMEOUT": "30",
}
# The ledger's sweep every 2 s heartbeat, with a 1 s grace and a 2 s confirmation (lost-pipeline tests).
FAST_LEDGER = {
    **SMALL_TIME_LIMITS,
    "NODE_HEARTBEAT_SECONDS": "2",
    "LOST_PIPELINE_GRACE_SECONDS": "1",
    "LOST_PIPELINE_CONFIRM_SECONDS": "2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.2, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}")


def pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace_s: float = 15.0) -> None:
        if self.alive():
            self.kill_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace_s)
        self.kill_group(signal.SIGKILL)  # pool children that outlived their parent
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


@dataclass
class Cluster:
    """Celery processes sharing one Redis database; stops everything it started."""

    redis_url: str
    workdir: Path
    procs: list[Proc] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "SIGMA_", "FLOWER_"))}
        env.update(
            PYTHONPATH=str(REPO),
            CELERY_BROKER_URL=self.redis_url,
            CELERY_RESULT_BACKEND=self.redis_url,
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def spawn(self, name: str, args: list[str], **env: str) -> Proc:
        log = self.workdir / f"{name}-{len(self.procs)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [CELERY, "-A", "tasks", *args],
                cwd=self.workdir,
                env=self.env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name=name, popen=popen, log=log)
        self.procs.append(proc)
        return proc

    def worker(self, node: str, name: str = "w1", concurrency: int = 2, wait: bool = True, **env: str) -> Proc:
        args = ["worker", "-P", "prefork", "-c", str(concurrency), "--hostname", f"{name}-{node}@%h"]
        args += ["--without-mingle", "--without-gossip", "--loglevel=INFO"]
        proc = self.spawn(f"worker-{node}-{name}", args, SIGMA_NODE=node, **env)
        if wait:
            wait_until(lambda: " ready." in proc.text() or not proc.alive(), WORKER_READY_S, what=proc.name)
            assert proc.alive(), f"{proc.name} exited:\n{proc.text()[-3000:]}"
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def _docker() -> Any:
    import docker

    return docker.from_env(timeout=30)


def submit_sample(project_id: str, prefix: str = "prop", changes: list[Any] | None = None, **extra: Any) -> Any:
    """Submit the sample project (no changes unless given) through `tasks.submit_proposal` with a fresh id."""
    import uuid

    from tasks import submit_proposal

    return submit_proposal(
        proposal_id=f"{prefix}-{uuid.uuid4().hex[:10]}",
        project_id=project_id,
        workspace=str(SAMPLE_PROJECT),
        language="python",
        changes=changes or [],
        **extra,
    )


def sigma_networks() -> set[str]:
    """Names of the networks sigma-exec labelled (the shared sigma-bridge among them)."""
    client = _docker()
    try:
        return {n["Name"] for n in client.api.networks(filters={"label": ["sigma.managed=1"]})}
    finally:
        client.close()


def sigma_temp_entries() -> set[str]:
    """sigma-exec's entries in the temp directory, except the build lock files it keeps on purpose."""
    import tempfile

    root = Path(tempfile.gettempdir())
    return {p.name for p in root.glob("sigma-exec-*") if not p.name.endswith(".lock")}


def sandboxes_of(project_id: str) -> list[dict[str, Any]]:
    client = _docker()
    try:
        return list(client.api.containers(all=True, filters={"label": [f"sigma.project={project_id}"]}))
    finally:
        client.close()


def remove_sandboxes_of(project_id: str) -> None:
    import docker

    client = _docker()
    try:
        for item in client.api.containers(all=True, filters={"label": [f"sigma.project={project_id}"]}):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(item["Id"], force=True, v=True)
    finally:
        client.close()


def stage_running(pipeline_id: str, stage: str) -> dict[str, str] | None:
    """The pipeline's ledger position while `stage` runs on a worker (None while queued or elsewhere)."""
    from tasks import runtime

    position = runtime.store().lease(pipeline_id)
    return position if position and position.get("stage") == stage and position.get("state") == "running" else None
