"""GPU requests: validation, the engine's device request, and whether a node has GPUs (pure)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from sigma_exec.errors import InvalidRequestError


class GpuRequest(BaseModel):
    """`count` GPUs (-1 = all), or the named device ids."""

    model_config = ConfigDict(frozen=True)
    count: int | None = None
    device_ids: list[str] = []

    def describe(self) -> str:
        return f"devices {','.join(self.device_ids)}" if self.device_ids else f"{self.count} GPU(s)"


def parse_gpu_request(raw: object) -> GpuRequest | None:
    """None / 0 → no GPU; N → N GPUs; "all" → all; ["0", "1"] or "0,1" → those devices."""
    if raw is None or raw == 0 or raw == "" or raw == []:
        return None
    if raw == "all" or raw == -1:
        return GpuRequest(count=-1)
    if isinstance(raw, bool):
        raise InvalidRequestError(f"gpus={raw!r}: give a count, 'all' or device ids")
    if isinstance(raw, int):
        if raw < 0:
            raise InvalidRequestError(f"gpus={raw!r}: a GPU count cannot be negative")
        return GpuRequest(count=raw)
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(raw, list) and raw and all(isinstance(d, str | int) for d in raw):
        return GpuRequest(device_ids=[str(d) for d in raw])
    raise InvalidRequestError(f"gpus={raw!r}: give a count, 'all' or a list of device ids")


def device_requests(request: GpuRequest | None) -> list[dict[str, Any]]:
    """The Engine API's DeviceRequests for a GPU request (nvidia driver)."""
    if request is None:
        return []
    entry: dict[str, Any] = {"Driver": "nvidia", "Capabilities": [["gpu"]]}
    if request.device_ids:
        entry["DeviceIDs"] = request.device_ids
    else:
        entry["Count"] = request.count
    return [entry]


def node_gpu_count(engine_info: dict[str, Any], configured: int) -> int:
    """GPUs this node offers: the NODE_GPUS setting, or (-1) any when Docker has an nvidia runtime."""
    if configured >= 0:
        return configured
    runtimes = engine_info.get("Runtimes") or {}
    return -1 if "nvidia" in runtimes else 0
