"""Fixtures of the fault-injection tests: our own Redis, our own celery workers, real Docker.

Nothing shared is touched: the redis-server is started here on a free loopback port (never the
one of SIGMA_TEST_REDIS_URL), workers run with a node name unique to the test, and sandboxes are
removed by their project label afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import RedisServer
from pipeline_helpers import Cluster, remove_sandboxes_of


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: the 100-proposal fault soak (`make soak` adds a dockerd restart)")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = RedisServer(workdir=tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_cluster(own_redis: RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(redis_url=own_redis.url, workdir=tmp_path)
    try:
        yield made
    finally:
        made.stop_all()


@pytest.fixture
def projects() -> Iterator[list[str]]:
    """Project ids a test used; every sandbox labelled with one is removed afterwards."""
    used: list[str] = []
    yield used
    for pid in used:
        remove_sandboxes_of(pid)
