"""Per-node verdict counts and verdict latency, for Prometheus, kept in the ledger (Redis).

Each outcome is counted once, inside the transaction that records it (`PipelineStore.finish` calls
`count_verdict` on its MULTI pipeline: no extra round trip on the hot path). Latency is from
submission to the recorded outcome. Any worker can serve the cluster-wide figures: with
`METRICS_PORT` set, its main process answers `/metrics` (`serve`), reading the ledger per scrape.

    sigma_verdicts_total{node, status}            counter
    sigma_verdict_latency_seconds{node}           histogram (buckets BUCKETS_S)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Final

log = logging.getLogger(__name__)

VERDICTS_KEY: Final = "sigma:metrics:verdicts"  # hash "<node>\x1f<status>" -> count
LATENCY_KEY: Final = "sigma:metrics:latency"  # hash "<node>\x1f<le>" -> count, "<node>\x1fsum", "<node>\x1fcount"
SEP: Final = "\x1f"
BUCKETS_S: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


def count_verdict(pipe: Any, node: str, status: str, latency_s: float | None) -> None:
    """Queue the counters of one recorded outcome on a Redis pipeline (inside its transaction)."""
    node = node or "-"
    pipe.hincrby(VERDICTS_KEY, f"{node}{SEP}{status}", 1)
    if latency_s is None:
        return
    for bound in BUCKETS_S:
        if latency_s <= bound:
            pipe.hincrby(LATENCY_KEY, f"{node}{SEP}{bound}", 1)
    pipe.hincrby(LATENCY_KEY, f"{node}{SEP}+Inf", 1)
    pipe.hincrbyfloat(LATENCY_KEY, f"{node}{SEP}sum", latency_s)
    pipe.hincrby(LATENCY_KEY, f"{node}{SEP}count", 1)


class VerdictCollector:
    """A prometheus-client collector reading the counters from Redis at each scrape."""

    def __init__(self, redis_client: Any) -> None:
        self.redis = redis_client

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        verdicts = CounterMetricFamily(
            "sigma_verdicts", "Proposals that ended, by node and verdict", labels=["node", "status"]
        )
        for field, count in sorted(self.redis.hgetall(VERDICTS_KEY).items()):
            node, _, status = _text(field).partition(SEP)
            verdicts.add_metric([node, status], float(count))
        yield verdicts
        latency = HistogramMetricFamily(
            "sigma_verdict_latency_seconds", "From submission to the recorded outcome", labels=["node"]
        )
        per_node: dict[str, dict[str, float]] = {}
        for field, value in self.redis.hgetall(LATENCY_KEY).items():
            node, _, part = _text(field).partition(SEP)
            per_node.setdefault(node, {})[part] = float(value)
        for node, parts in sorted(per_node.items()):
            buckets = [(str(b), parts.get(str(b), 0.0)) for b in BUCKETS_S] + [("+Inf", parts.get("+Inf", 0.0))]
            latency.add_metric([node], buckets, parts.get("sum", 0.0))
        yield latency


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def serve(redis_client: Any, port: int, address: str) -> bool:
    """Answer /metrics on `address:port` from this process; False (logged) when the port is taken."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(VerdictCollector(redis_client))  # type: ignore[arg-type]
    try:
        start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        log.warning("metrics not served on %s:%d: %s", address, port, exc)
        return False
    log.info("verdict metrics on http://%s:%d/metrics", address, port)
    return True
