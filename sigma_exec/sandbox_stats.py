"""Sampling a sandbox's resource use: host cgroup files when the engine is local, else the Engine API's one-shot
stats; CPU percent is the delta since the previous sample the registry holds (like `docker stats`).
"""

from __future__ import annotations

import time
from typing import Any

from sigma_exec import cgroups
from sigma_exec.sandbox_unit import SandboxUnit
from sigma_exec.stats import to_container_stats


class StatsSampler(SandboxUnit):
    """Reads stats of sigma-exec sandboxes; an unknown sandbox or an engine failure raises."""

    def stats(self, container_id: str) -> dict[str, Any]:
        """cpu_percent, memory_usage_mb, memory_percent, network_rx_mb, network_tx_mb (and more).

        The first call of a sandbox takes two samples 100 ms apart.
        """
        self._lookup.labels(container_id)
        entry = self._registry.get(container_id)
        previous = entry.last_stats if entry else None
        if previous is None:
            previous = self._sample(container_id)
            time.sleep(0.1)
        current = self._sample(container_id)
        if entry is not None:
            entry.last_stats = current
        return to_container_stats(previous, current).as_dict()

    def _sample(self, container_id: str) -> dict[str, Any]:
        engine = self._engine()
        full_id, pid = self._identity(container_id)
        sample = cgroups.read_sample(full_id, pid) if engine.is_local else None
        return sample if sample is not None else engine.stats(container_id)

    def _identity(self, container_id: str) -> tuple[str, int | None]:
        entry = self._registry.get(container_id)
        if entry is not None and entry.identity is not None:
            return entry.identity
        attrs = self._engine().inspect(container_id)
        identity = (attrs["Id"], (attrs.get("State") or {}).get("Pid") or None)
        if entry is not None:
            entry.identity = identity
            self._registry.remember((attrs["Id"],), entry.labels)  # the full id names the same sandbox
        return identity
