"""Per-process singletons of a worker: settings, Redis store and Docker executor.

Created lazily in the process that uses them (after the prefork fork), never at import.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from sigma_exec.baselines import RedisBaselineCache
from sigma_exec.errors import DockerUnavailableError
from sigma_exec.executor import DockerExecutor
from sigma_exec.settings import Settings
from tasks.config import QueueSettings, TimeLimits, time_limits
from tasks.store import PipelineStore

_executor_guard = threading.Lock()
_executor: DockerExecutor | None = None
_worker_identity = ""  # set in the worker's main process before the pool forks (children inherit it)


def set_worker_identity(identity: str) -> None:
    global _worker_identity
    _worker_identity = identity


def worker_identity() -> str:
    """`<celery host name>#<machine>#<main pid>` of this worker process ('' outside a worker)."""
    return _worker_identity


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()


@lru_cache(maxsize=1)
def queue_settings() -> QueueSettings:
    return QueueSettings()


def limits() -> TimeLimits:
    return time_limits(settings(), queue_settings())


@lru_cache(maxsize=1)
def store() -> PipelineStore:
    return PipelineStore.from_url(settings().CELERY_BROKER_URL)


@lru_cache(maxsize=1)
def baselines() -> RedisBaselineCache:
    """Baselines shared by every node, in the broker's Redis."""
    return RedisBaselineCache(store().redis)


def close_executor() -> None:
    """At a worker process's exit: remove its warm and prepared sandboxes (the reaper would, at their deadline)."""
    global _executor
    with _executor_guard:
        current, _executor = _executor, None
    if current is not None:
        current.close()


def executor(*, require: bool = True) -> DockerExecutor:
    """This process's executor; with `require`, raise DockerUnavailableError unless the engine answers."""
    global _executor
    with _executor_guard:
        if _executor is None or not _executor.available:
            _executor = DockerExecutor(settings())
        current = _executor
    if require and settings().DOCKER_ENABLED:  # disabled is permanent: stages report it as data
        if not current.available:
            raise DockerUnavailableError(current.unavailable_reason or "docker unavailable")
        current.ping()  # raises DockerUnavailableError when the engine went away
    return current
