"""Prepared sandboxes: for a project an agent iterates on, the next proposal's sandbox made ready beforehand.

A prepared sandbox is a pooled container (never used; the same image and sandbox profile as a create would
start) that already holds exactly the workspace a create would deliver (same content digest) and in which the
framework's `warm_command` has run on that workspace, before any proposal touched it: the state a sandbox is in
after an uncached baseline run. It is leased once and never reused. It is prepared once the sandbox it
replaces is gone (or after a delay), so that it never competes with that sandbox's own stages for the CPU.

Processes coordinate through the engine's unique container names: a preparation runs as `sigma-prep-<key>`
(a second preparer's create conflicts and gives up), a ready one is renamed `sigma-spare-<key>`, and a claim
renames `sigma-spare-<key>` to its lease name under a host-wide lock, so only one claimer's rename finds it (the
engine's rename alone is not exclusive). A node is one engine and the workers on its host.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sigma_exec import commands
from sigma_exec import constants as c
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import ContainerNotFoundError, EngineConflictError, SigmaExecError
from sigma_exec.pool import pool_key, pooled_spec
from sigma_exec.spec import ContainerSpec

log = logging.getLogger(__name__)
PREPARE_DELAY_S = 30.0  # prepare anyway this long after the replaced sandbox's create (it may live elsewhere)
WARM_CAP_BYTES = 64 * 1024  # the warm command's output is read and dropped
PREP_PREFIX = "sigma-prep-"
SPARE_PREFIX = "sigma-spare-"
PREP_GRACE_S = 60.0  # a preparation older than its warm command's limit and this lost its preparer
MAX_PAYLOAD_BYTES = 64 << 20  # a larger workspace is not kept in memory to prepare
# A resident command not ready by then is killed with what it started (~0.3 s for Python's); with the warm
# command's limit it stays within what `_preparing` allows a preparation (PREP_GRACE_S over that limit).
RESIDENT_START_S = 20


def prepared_key(spec: ContainerSpec, image_id: str, digest: str) -> str:
    """What a prepared sandbox must match: its project, image, sandbox profile and workspace content."""
    project = spec.labels.get(c.LABEL_PROJECT, "")
    return hashlib.sha256(f"{project}|{pool_key(spec)}|{image_id}|{digest}".encode()).hexdigest()[:24]


CLAIM_LOCK = Path(tempfile.gettempdir()) / "sigma-exec-claims.lock"


@contextmanager
def claim_lock() -> Iterator[None]:
    """Claims on this host, one at a time (a rename takes milliseconds): a renamed spare's old name is gone
    before the next claimer looks for it. (Docker resolves the old name and renames a container that another
    claimer has just renamed, so both would hold it.)"""
    with CLAIM_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _born(found: dict[str, object]) -> int:
    """A container's creation time from its label, as `inspect` gives it (0 when unreadable)."""
    labels = (found.get("Config") or {}).get("Labels") or {}  # type: ignore[union-attr]
    try:
        return int(labels.get(c.LABEL_CREATED_AT, "0"))
    except ValueError:
        return 0


class Warmup(BaseModel):
    """What runs in a prepared sandbox before any proposal touches it: the framework's warm command (its outcome
    ignored), then its resident command (it returns once what it leaves behind is ready; see `Framework`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: str = ""
    timeout_s: int = Field(600, ge=1)
    resident: str = ""
    resident_env: dict[str, str] = Field(default_factory=dict)


@dataclass
class Recipe:
    """How to prepare one project's next sandbox (held in memory; bounded by POOL_PREPARED)."""

    key: str
    spec: ContainerSpec
    payload: bytes
    warmup: Warmup
    used: float
    replaces: str | None  # the sandbox this one is for after: prepare once it is gone


class PreparedSandboxes:
    """Keeps one prepared sandbox per recent (project image, profile, workspace); thread-safe."""

    def __init__(self, backend: DockerBackend, capacity: int, idle_s: float, max_age_s: float) -> None:
        self.backend = backend
        self.capacity = capacity
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self._recipes: OrderedDict[str, Recipe] = OrderedDict()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._soon: set[str] = set()  # keys this process is about to prepare, or preparing

    # ---- the creator's side ---------------------------------------------------------------------
    def claim(self, key: str, name: str, wait_s: float = 0.0) -> str | None:
        """The prepared sandbox for `key`, renamed to `name`; None when none is ready (or it is unusable).

        While one is being prepared (its warm command compiling what the test stage would compile anyway), wait
        for it up to `wait_s`: starting a cold sandbox beside it would only share the CPU with it.
        """
        deadline = time.monotonic() + wait_s
        while True:
            with self._lock:
                soon = key in self._soon
            # asked before the claim: a preparation may turn spare meanwhile
            preparing = wait_s > 0 and (soon or self._preparing(key, wait_s + PREP_GRACE_S))
            found = self._claim_once(key, name)
            if found is not None or not preparing or time.monotonic() >= deadline:
                return found
            time.sleep(0.02)

    def _claim_once(self, key: str, name: str) -> str | None:
        try:
            with claim_lock():  # the engine's rename alone is no claim: two renames of one name can both succeed
                self.backend.rename(SPARE_PREFIX + key, name)
        except (ContainerNotFoundError, EngineConflictError):
            return None
        except (SigmaExecError, OSError) as exc:
            log.info("prepared sandbox %s not claimed: %s", key, exc)
            return None
        try:
            found = self.backend.inspect(name)
            if (found.get("State") or {}).get("Running") and time.time() - _born(found) < self.max_age_s:
                return str(found["Id"])
        except SigmaExecError as exc:
            log.info("prepared sandbox %s unusable: %s", key, exc)
        with contextlib.suppress(SigmaExecError):
            self.backend.remove(name)
        return None

    def want(self, key: str, spec: ContainerSpec, payload: bytes, *, warmup: Warmup, replaces: str) -> None:
        """Keep a sandbox like `spec` with `payload` prepared for the next create (after `replaces` is gone)."""
        if self.capacity <= 0 or len(payload) > MAX_PAYLOAD_BYTES:
            return
        now = time.monotonic()
        with self._lock:
            self._recipes.pop(key, None)  # re-inserted last: the most recently wanted is evicted last
            self._recipes[key] = Recipe(key, spec, payload, warmup, now, replaces)
            evicted = [self._recipes.popitem(last=False)[1] for _ in range(len(self._recipes) - self.capacity)]
        for recipe in evicted:
            self._drop(recipe.key)
        self._ensure_thread()
        self._wake.set()

    def released(self, container_id: str) -> None:
        """A sandbox is gone: prepare what was waiting on it now."""
        with self._lock:
            hit = [r for r in self._recipes.values() if r.replaces == container_id]
            for recipe in hit:
                recipe.replaces = None
                self._soon.add(recipe.key)
        if hit:
            self._ensure_thread()
            self._wake.set()

    def pending(self) -> int:
        """Recipes whose sandbox is not prepared yet (benchmarks wait for 0 between proposals)."""
        with self._lock:
            keys = list(self._recipes)
        return sum(1 for key in keys if not self._exists(SPARE_PREFIX + key))

    def close(self) -> None:
        """Stop preparing and remove this process's prepared sandboxes."""
        self._stop.set()
        self._wake.set()
        if self._thread:  # an unfinished preparation is removed below, which ends its warm command
            self._thread.join(5)
        with self._lock:
            keys = list(self._recipes)
            self._recipes.clear()
        for key in keys:
            self._drop(key)

    # ---- background preparation ---------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="sigma-prepared", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            for recipe in self._due():
                if self._stop.is_set():
                    return
                try:
                    self._prepare(recipe)
                finally:
                    with self._lock:
                        self._soon.discard(recipe.key)

    def _due(self) -> list[Recipe]:
        """Recipes to prepare now; idle ones are dropped."""
        now = time.monotonic()
        with self._lock:
            idle = [k for k, r in self._recipes.items() if now - r.used > self.idle_s]
            for key in idle:
                del self._recipes[key]
            recipes = list(self._recipes.values())
        for key in idle:
            self._drop(key)
        due = []
        for recipe in recipes:
            if recipe.replaces and now - recipe.used < PREPARE_DELAY_S:
                if self._exists(recipe.replaces):
                    continue
                recipe.replaces = None
            if not self._exists(SPARE_PREFIX + recipe.key):
                due.append(recipe)
        with self._lock:
            self._soon &= {r.key for r in due}
        return due

    def _prepare(self, recipe: Recipe) -> None:
        # Labelled for its project from the start (cleanup_project finds it; a later stage in any process reads
        # the project's policy from the labels); its pipeline rides in the name it is leased under.
        project = recipe.spec.labels.get(c.LABEL_PROJECT, "")
        spec = pooled_spec(recipe.spec, pool_key(recipe.spec), PREP_PREFIX + recipe.key, project=project)
        try:
            container_id = self.backend.create_container(spec)
        except EngineConflictError:
            return  # another process prepares it
        except SigmaExecError as exc:
            log.warning("preparing a sandbox failed: %s", exc)
            return
        try:
            self.backend.start(container_id)
            self.backend.put_archive(container_id, c.WORKSPACE_DIR, recipe.payload)
            self._warm(container_id, recipe.warmup)
            self.backend.rename(container_id, SPARE_PREFIX + recipe.key)
        except SigmaExecError as exc:  # a conflict here: one is ready already
            log.info("prepared sandbox %s discarded: %s", recipe.key, exc)
            with contextlib.suppress(SigmaExecError):
                self.backend.remove(container_id)

    def _warm(self, container_id: str, warmup: Warmup) -> None:
        """The warm command (every process it leaves is killed), then the resident command (what it starts stays)."""
        steps = [
            (warmup.command, commands.wrap_with_deadline(warmup.command, warmup.timeout_s), {}, warmup.timeout_s),
            (
                warmup.resident,
                commands.wrap_start(warmup.resident, RESIDENT_START_S),
                warmup.resident_env,
                RESIDENT_START_S,
            ),
        ]
        for command, argv, env, limit_s in steps:
            if command:
                raw = self.backend.exec_bounded(
                    container_id,
                    argv,
                    user=c.SANDBOX_USER,
                    environment=env,
                    workdir=c.WORKSPACE_DIR,
                    cap_bytes=WARM_CAP_BYTES,
                    deadline_s=limit_s + 5,
                    on_deadline=commands.script(commands.KILL_ALL),
                )
                log.debug("%r in %s exited %s", command[:40], container_id[:12], raw.exit_code)

    def _preparing(self, key: str, stale_after_s: float) -> bool:
        """A preparation of `key` runs (in any process); one older than `stale_after_s` lost its preparer (the
        process died) and is removed, so that nobody waits for it and it can be prepared again."""
        try:
            found = self.backend.inspect(PREP_PREFIX + key)
        except ContainerNotFoundError:
            return False
        except SigmaExecError:
            return False  # unknown: do not wait
        if time.time() - _born(found) <= stale_after_s:
            return True
        with contextlib.suppress(SigmaExecError):
            self.backend.remove(str(found.get("Id") or PREP_PREFIX + key))
        return False

    def _exists(self, name: str) -> bool:
        try:
            self.backend.inspect(name)
        except ContainerNotFoundError:
            return False
        except SigmaExecError:
            return True  # unknown: do not pile up preparations
        return True

    def _drop(self, key: str) -> None:
        for name in (SPARE_PREFIX + key, PREP_PREFIX + key):
            with contextlib.suppress(SigmaExecError):
                self.backend.remove(name)
