"""A warm pool of pre-started sandboxes, one pool per (image, sandbox profile).

A pooled container is leased once and never reused: release removes it and the
pool refills in the background, so a lease can never see another lease's files,
processes or environment. Acquire is O(ms): pop a ready container, rename it to
the project's name and deliver the workspace with one `put_archive`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sigma_exec import constants as c
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import SigmaExecError
from sigma_exec.spec import ContainerSpec

if TYPE_CHECKING:
    from sigma_exec.prepared import PreparedSandboxes

log = logging.getLogger(__name__)
ROLE_POOL = "pool"
LABEL_POOL_KEY = "sigma.pool-key"


def pool_key(spec: ContainerSpec) -> str:
    """What makes two sandboxes interchangeable: image and every security/limit setting."""
    fields = spec.model_dump(exclude={"name", "labels"})
    return hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()[:16]


def lease_prefix(project_id: object) -> str:
    """Name prefix of pooled containers leased to a project (labels cannot change after create)."""
    return f"sigma-lease-{hashlib.sha256(str(project_id).encode()).hexdigest()[:12]}-"


# A pooled container's labels were fixed before it was leased: its name carries the lease. A pipeline id that is
# a valid name (ours are) rides at the end, so the reaper and a re-run's create find the lease of a pipeline.
_NAMEABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_LEASE = re.compile(r"sigma-lease-[0-9a-f]{12}-[0-9a-f]{12}--(?P<pipeline>.+)")


def lease_name(project_id: object, pipeline_id: str | None = None) -> str:
    """A fresh name for a pooled container leased to a project (and to a pipeline, when its id is nameable)."""
    name = f"{lease_prefix(project_id)}{uuid.uuid4().hex[:12]}"
    return f"{name}--{pipeline_id}" if pipeline_id and _NAMEABLE.fullmatch(pipeline_id) else name


def leased_pipeline(name: str) -> str:
    """The pipeline a leased pooled container was named for ('' when none) (pure)."""
    found = _LEASE.fullmatch(name.lstrip("/"))
    return found.group("pipeline") if found else ""


def pipeline_of(container: dict[str, Any]) -> str:
    """The pipeline a container (as the engine lists it) serves: its label, else its lease's name ('' for none)."""
    labelled = (container.get("Labels") or {}).get(c.LABEL_PIPELINE, "")
    return labelled or next((p for p in map(leased_pipeline, container.get("Names") or []) if p), "")


def pooled_spec(spec: ContainerSpec, key: str, name: str, *, project: str = "") -> ContainerSpec:
    """`spec` as a pooled container: named `name`, labelled for `project` (none: a blank one) and no pipeline
    until leased."""
    now = int(time.time())
    ttl = int(spec.command[-1]) if spec.command and spec.command[-1].isdigit() else 3600
    labels = {
        **spec.labels,
        c.LABEL_ROLE: ROLE_POOL,
        LABEL_POOL_KEY: key,
        c.LABEL_PROJECT: project,
        c.LABEL_PIPELINE: "",
        c.LABEL_CREATED_AT: str(now),
        c.LABEL_EXPIRES_AT: str(now + ttl),
    }
    return spec.model_copy(update={"name": name, "labels": labels})


class WarmPool:
    """Keeps `size` started sandboxes ready per pool key; thread-safe."""

    def __init__(
        self,
        backend: DockerBackend,
        size: int,
        max_age_s: float,
        *,
        idle_s: float = float("inf"),
        prepared: PreparedSandboxes | None = None,
    ) -> None:
        self.backend = backend
        self.size = size
        self.max_age_s = max_age_s
        self.idle_s = idle_s
        self.prepared = prepared  # projects' next sandboxes, made ready beforehand (sigma_exec.prepared)
        self._used: dict[str, float] = {}
        self._ready: dict[str, deque[tuple[str, float]]] = {}
        self._specs: dict[str, ContainerSpec] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._doomed: deque[str] = deque()

    def register(self, spec: ContainerSpec) -> str:
        """Start keeping warm containers of this spec; returns its pool key."""
        key = pool_key(spec)
        with self._lock:
            self._used[key] = time.monotonic()
            self._specs.setdefault(key, spec)
            self._ready.setdefault(key, deque())
        self._ensure_thread()
        self._wake.set()
        return key

    def acquire(self, spec: ContainerSpec, name: str | None) -> str | None:
        """A started container matching `spec`, renamed to `name` (kept as is for None); None when none is ready."""
        key = self.register(spec)
        while True:
            with self._lock:
                queue = self._ready.get(key)
                if not queue:
                    return None
                container_id, born = queue.popleft()
            self._wake.set()
            if time.monotonic() - born > self.max_age_s:
                self._discard(container_id)
                continue
            try:
                if name is not None:
                    self.backend.rename(container_id, name)
                return container_id
            except SigmaExecError as exc:
                log.warning("pooled container %s unusable: %s", container_id[:12], exc)
                self._discard(container_id)

    def discard_later(self, container_id: str) -> None:
        """Remove a released container from the refill thread, off the caller's path."""
        self._doomed.append(container_id)
        self._ensure_thread()
        self._wake.set()

    def ready_count(self, spec: ContainerSpec) -> int:
        with self._lock:
            return len(self._ready.get(pool_key(spec), ()))

    def wait_ready(self, spec: ContainerSpec, timeout_s: float) -> bool:
        """Block until the pool for `spec` is full (used by benchmarks and tests)."""
        self.register(spec)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ready_count(spec) >= self.size:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Stop refilling and preparing, and remove every idle pooled and prepared container."""
        if self.prepared is not None:
            self.prepared.close()
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(10)
        with self._lock:
            idle = [cid for queue in self._ready.values() for cid, _ in queue] + list(self._doomed)
            self._ready.clear()
            self._doomed.clear()
        for container_id in idle:
            self._discard(container_id)

    # ---- background refill ---------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._refill_loop, name="sigma-pool", daemon=True)
            self._thread.start()

    def _refill_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(5)
            self._wake.clear()
            while self._doomed:
                self._discard(self._doomed.popleft())
            with self._lock:
                keys = list(self._specs)
            for key in keys:
                self._refill(key)

    def _refill(self, key: str) -> None:
        if time.monotonic() - self._used.get(key, 0.0) > self.idle_s:  # nobody asked for a while: empty it
            with self._lock:
                idle = [cid for cid, _ in self._ready.pop(key, ())]
                self._specs.pop(key, None)
                self._used.pop(key, None)
            for container_id in idle:
                self._discard(container_id)
            return
        while not self._stop.is_set():
            with self._lock:
                missing = self.size - len(self._ready[key])
            if missing <= 0:
                return
            container_id = self._start_one(self._specs[key], key)
            if container_id is None:
                return
            with self._lock:
                self._ready[key].append((container_id, time.monotonic()))

    def _start_one(self, spec: ContainerSpec, key: str) -> str | None:
        from sigma_exec.spec import container_name

        pooled = pooled_spec(spec, key, container_name("pool"))
        try:
            container_id = self.backend.create_container(pooled)
        except SigmaExecError as exc:
            log.warning("pool refill failed: %s", exc)
            return None
        try:
            self.backend.start(container_id)
        except SigmaExecError as exc:
            log.warning("pool refill failed: %s", exc)
            self._discard(container_id)
            return None
        return container_id

    def _discard(self, container_id: str) -> None:
        with contextlib.suppress(SigmaExecError):
            self.backend.remove(container_id)


PoolAccessor = Callable[[], WarmPool | None]
"""The executor's pool, read at each call (closing the executor drops it)."""
