"""`docker stats` arithmetic over raw stats payloads (pure)."""

from __future__ import annotations

from typing import Any

from sigma_exec.models import ContainerStats

MB = 1024 * 1024


def _cpu_totals(sample: dict[str, Any]) -> tuple[int, int, int]:
    cpu = sample.get("cpu_stats") or {}
    usage = (cpu.get("cpu_usage") or {}).get("total_usage") or 0
    system = cpu.get("system_cpu_usage") or 0
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    return int(usage), int(system), int(online)


def cpu_percent(previous: dict[str, Any] | None, current: dict[str, Any]) -> float:
    """CPU percent as `docker stats` computes it (100% = one full core)."""
    if previous is None:
        previous = {"cpu_stats": current.get("precpu_stats") or {}}
    used_now, system_now, online = _cpu_totals(current)
    used_before, system_before, _ = _cpu_totals(previous)
    cpu_delta, system_delta = used_now - used_before, system_now - system_before
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return round(cpu_delta / system_delta * online * 100.0, 2)


def memory_used_bytes(sample: dict[str, Any]) -> int:
    """Usage without page cache, like the docker CLI (cgroup v1 and v2)."""
    memory = sample.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    stats = memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in stats and stats[key] < usage:
            return usage - int(stats[key])
    return usage


def to_container_stats(previous: dict[str, Any] | None, current: dict[str, Any]) -> ContainerStats:
    """Build the stats result from one or two raw samples."""
    memory = current.get("memory_stats") or {}
    limit = int(memory.get("limit") or 0)
    used = memory_used_bytes(current)
    networks = current.get("networks") or {}
    rx = sum(int(n.get("rx_bytes") or 0) for n in networks.values())
    tx = sum(int(n.get("tx_bytes") or 0) for n in networks.values())
    return ContainerStats(
        cpu_percent=cpu_percent(previous, current),
        memory_usage_mb=round(used / MB, 2),
        memory_limit_mb=round(limit / MB, 2),
        memory_percent=round(used / limit * 100.0, 2) if limit else 0.0,
        network_rx_mb=round(rx / MB, 4),
        network_tx_mb=round(tx / MB, 4),
        pids=(current.get("pids_stats") or {}).get("current"),
    )
