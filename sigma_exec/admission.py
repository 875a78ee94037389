"""How many sandboxes (and so pipelines) a node runs at once, from its budget and the sandbox limits (pure)."""

from __future__ import annotations

import os

from sigma_exec.settings import Settings

MEMORY_RESERVE_FRACTION = 0.2  # kept for the engine, the worker and page cache


def node_capacity(
    settings: Settings, *, cpus: float | None = None, memory_mb: int | None = None, cpu_overcommit: float = 2.0
) -> int:
    """Concurrent sandboxes this node admits.

    Memory is not overcommitted (a sandbox may really use its whole limit, tmpfs included);
    CPU quotas are ceilings, not reservations, so they are overcommitted by `cpu_overcommit`.
    """
    cpus = cpus if cpus is not None else float(os.cpu_count() or 1)
    memory_mb = memory_mb if memory_mb is not None else _host_memory_mb()
    by_memory = int(memory_mb * (1 - MEMORY_RESERVE_FRACTION) // settings.SANDBOX_MEMORY_MB)
    by_cpu = int(cpus * cpu_overcommit // settings.SANDBOX_CPUS)
    return max(1, min(by_memory, by_cpu))


def _host_memory_mb() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 2048
