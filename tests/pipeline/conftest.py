"""Fixtures for the Celery pipeline: a real redis-server, real `celery -A tasks` processes, real Docker.

Redis: the server of `SIGMA_TEST_REDIS_URL` when set (the Makefile starts one), in a database of
its own (`PIPELINE_DB`), else a private redis-server on a free port of 127.0.0.1, stopped after.
Each cluster flushes that database before and after, so a queue left by one test (e.g. a poison
message) never reaches the next.

Workers run with `PYTHONPATH=<repo>` in a temporary directory (no stray `.env` is read), each in
its own session so a test can SIGKILL a whole worker (main process and pool children) at once;
every process started here is stopped at teardown. Sandboxes are removed by project label.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pipeline_helpers import SAMPLE_CHANGES, Cluster, free_port, pings, remove_sandboxes_of, wait_until

PIPELINE_DB = 9


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("SIGMA_TEST_REDIS_URL")
    if external:  # the same server, but a database of our own: the clusters here flush it
        yield urlunsplit(urlsplit(external)._replace(path=f"/{PIPELINE_DB}"))
        return
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed and SIGMA_TEST_REDIS_URL is not set")
    import redis

    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*argv, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: pings(redis.Redis.from_url(url)), 10, what="redis-server to answer")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def client_app(redis_url: str) -> Iterator[Any]:
    """The `tasks` app in this (client) process, pointed at the test Redis."""
    saved = {k: os.environ.get(k) for k in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    os.environ["CELERY_BROKER_URL"] = os.environ["CELERY_RESULT_BACKEND"] = redis_url
    from tasks import app, runtime
    from tasks.config import celery_config

    for cached in (runtime.settings, runtime.queue_settings, runtime.store):
        cached.cache_clear()
    app.conf.update(celery_config(runtime.settings(), runtime.queue_settings()))
    yield app
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextlib.contextmanager
def _cluster(redis_url: str, workdir: Path) -> Iterator[Cluster]:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    made = Cluster(redis_url=redis_url, workdir=workdir)
    try:
        yield made
    finally:
        made.stop_all()
        redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def cluster(redis_url: str, client_app: Any, tmp_path: Path) -> Iterator[Cluster]:
    """Celery processes for one test, on a flushed database; all stopped afterwards."""
    with _cluster(redis_url, tmp_path) as made:
        yield made


@pytest.fixture(scope="module")
def module_cluster(redis_url: str, client_app: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Celery processes shared by the tests of one module."""
    with _cluster(redis_url, tmp_path_factory.mktemp("celery")) as made:
        yield made


@pytest.fixture
def project_id() -> Iterator[str]:
    """A unique project id; every sandbox carrying it is removed afterwards."""
    pid = f"pl-{uuid.uuid4().hex[:12]}"
    yield pid
    remove_sandboxes_of(pid)


@pytest.fixture
def project_ids() -> Iterator[Callable[[], str]]:
    """A factory of unique project ids, all cleaned up afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(f"pl-{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield make
    for pid in made:
        remove_sandboxes_of(pid)


@pytest.fixture(scope="session")
def sample_changes() -> list[dict[str, Any]]:
    return list(json.loads(SAMPLE_CHANGES.read_text()))


@pytest.fixture(scope="session")
def docker_engine() -> None:
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"no Docker engine: {exc}")
