"""What every sandbox unit behind `DockerExecutor` shares: settings, the engine, the registry, lookups, pool, locks."""

from __future__ import annotations

from dataclasses import dataclass

from sigma_exec.pool import PoolAccessor
from sigma_exec.registry import LockAccessor, SandboxRegistry
from sigma_exec.sandbox_lookup import EngineAccessor, SandboxLookup
from sigma_exec.settings import Settings


@dataclass(frozen=True)
class SandboxContext:
    settings: Settings
    engine: EngineAccessor  # raises DockerUnavailableError when no engine answers
    registry: SandboxRegistry
    lookup: SandboxLookup
    pool: PoolAccessor  # the warm pool now (None after close)
    lock: LockAccessor  # one lock per sandbox: its steps never interleave


class SandboxUnit:
    """Base of the units: the shared context under the names each unit uses."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.settings = ctx.settings
        self._engine = ctx.engine
        self._registry = ctx.registry
        self._lookup = ctx.lookup
        self._pool = ctx.pool
        self._lock = ctx.lock
