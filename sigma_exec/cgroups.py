"""Container resource figures read from the host's cgroup files when the engine is local.

`docker stats` answers about once a second (its collector ticks at 1 Hz); the cgroup
files answer in microseconds. The result has the Engine API's stats shape, so
`stats.to_container_stats` applies unchanged. Returns None when the files are not
visible (remote engine, other cgroup layout): callers fall back to the API.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
NANOS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def parse_proc_stat_total(text: str) -> int:
    """Host CPU time in ns from /proc/stat's first line (what Docker calls system_cpu_usage)."""
    first = text.split("\n", 1)[0].split()
    return sum(int(x) for x in first[1:8]) * NANOS_PER_TICK


def parse_kv(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """Interfaces other than lo, with rx/tx bytes (the Engine API's `networks`)."""
    nets = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name.strip() and name.strip() != "lo" and len(fields) >= 9:
            nets[name.strip()] = {"rx_bytes": int(fields[0]), "tx_bytes": int(fields[8])}
    return nets


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _v1(container_id: str) -> dict[str, Any] | None:
    mem = CGROUP_ROOT / "memory" / "docker" / container_id
    usage = _read(mem / "memory.usage_in_bytes")
    cpu = _read(CGROUP_ROOT / "cpuacct" / "docker" / container_id / "cpuacct.usage")
    if usage is None or cpu is None:
        return None
    limit = _read(mem / "memory.limit_in_bytes") or "0"
    pids = _read(CGROUP_ROOT / "pids" / "docker" / container_id / "pids.current")
    return {
        "cpu_total": int(cpu),
        "memory": {"usage": int(usage), "limit": int(limit), "stats": parse_kv(_read(mem / "memory.stat") or "")},
        "pids": int(pids) if pids else None,
    }


def _v2(container_id: str) -> dict[str, Any] | None:
    for base in (CGROUP_ROOT / "system.slice" / f"docker-{container_id}.scope", CGROUP_ROOT / "docker" / container_id):
        usage = _read(base / "memory.current")
        cpu = _read(base / "cpu.stat")
        if usage is None or cpu is None:
            continue
        limit = (_read(base / "memory.max") or "0").strip()
        pids = _read(base / "pids.current")
        return {
            "cpu_total": parse_kv(cpu).get("usage_usec", 0) * 1000,
            "memory": {
                "usage": int(usage),
                "limit": 0 if limit == "max" else int(limit),
                "stats": parse_kv(_read(base / "memory.stat") or ""),
            },
            "pids": int(pids) if pids else None,
        }
    return None


def read_sample(container_id: str, pid: int | None) -> dict[str, Any] | None:
    """An Engine-API-shaped stats sample from host files, or None when they are not visible."""
    found = _v1(container_id) or _v2(container_id)
    system = _read(Path("/proc/stat"))
    if found is None or system is None:
        return None
    net = _read(Path(f"/proc/{pid}/net/dev")) if pid else None
    return {
        "cpu_stats": {
            "cpu_usage": {"total_usage": found["cpu_total"]},
            "system_cpu_usage": parse_proc_stat_total(system),
            "online_cpus": os.cpu_count() or 1,
        },
        "memory_stats": found["memory"],
        "pids_stats": {"current": found["pids"]},
        "networks": parse_net_dev(net) if net else {},
    }
