"""Timing helpers: medians and p95 of repeated runs (no assertions, only figures)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], runs: int, warmup: int = 1) -> dict[str, float]:
    """Median, p95, min of `runs` calls of fn, in seconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return summarize(samples)


def summarize(samples: list[float]) -> dict[str, float]:
    """Median, p95 and min of timing samples, in seconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_s": statistics.median(ordered), "p95_s": p95, "min_s": ordered[0], "runs": len(ordered)}


def ratio(numerator: dict[str, float], denominator: dict[str, float]) -> float:
    return round(numerator["median_s"] / denominator["median_s"], 3)


def rss_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
