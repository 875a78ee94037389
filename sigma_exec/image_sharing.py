"""Image build coordination shared by every kind of image: a lock per image, registry pull and push."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sigma_exec.docker_backend import DockerBackend
from sigma_exec.settings import Settings

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


BUILD_LOCK_SLOTS = 32


def build_lock_path(name: str) -> Path:
    """The lock file serialising builds of image `name` across processes (pure).

    A fixed set of slots: per-project images (dependency layers, Dockerfiles) leave no new file behind.
    Builds never nest, so two names sharing a slot only wait for each other.
    """
    slot = int(hashlib.sha256(name.encode()).hexdigest(), 16) % BUILD_LOCK_SLOTS
    return Path(tempfile.gettempdir()) / f"sigma-exec-build-{slot:02d}.lock"


@contextmanager
def build_lock(name: str) -> Iterator[None]:
    with build_lock_path(name).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pulled(backend: DockerBackend, ref: str, settings: Settings, progress: Progress | None) -> bool:
    """With a registry, another node's build is reused; a registry that is down only warns."""
    if not settings.DOCKER_REGISTRY:
        return False
    problem = backend.pull(ref)
    if problem is None:
        if progress:
            progress(f"pulled {ref} from {settings.DOCKER_REGISTRY}")
        return True
    log.warning("registry: %s not pulled (%s); building locally", ref, problem)
    return False


def share(backend: DockerBackend, ref: str, settings: Settings, progress: Progress | None) -> None:
    if not settings.DOCKER_REGISTRY:
        return
    problem = backend.push(ref)
    if problem is None:
        if progress:
            progress(f"pushed {ref} to {settings.DOCKER_REGISTRY}")
    else:
        log.warning("registry: %s not pushed (%s); the image stays local to this node", ref, problem)
