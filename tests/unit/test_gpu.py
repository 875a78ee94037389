"""GPU requests: parsing, the engine's device request, node capability and routing (pure)."""

from __future__ import annotations

import pytest

from sigma_exec.errors import InvalidRequestError
from sigma_exec.gpu import GpuRequest, device_requests, node_gpu_count, parse_gpu_request
from tasks.config import GPU_PROPOSALS_QUEUE, PROPOSALS_QUEUE, proposal_queue


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        (0, None),
        (2, GpuRequest(count=2)),
        ("all", GpuRequest(count=-1)),
        (["0", "1"], GpuRequest(device_ids=["0", "1"])),
        ("GPU-abc, GPU-def", GpuRequest(device_ids=["GPU-abc", "GPU-def"])),
    ],
)
def test_gpu_requests_parse(raw, expected) -> None:
    assert parse_gpu_request(raw) == expected


@pytest.mark.parametrize("raw", [-3, True, {"n": 1}, [1.5]])
def test_bad_gpu_requests_are_refused_naming_the_value(raw) -> None:
    with pytest.raises(InvalidRequestError, match="gpus="):
        parse_gpu_request(raw)


def test_device_requests_follow_the_engine_api() -> None:
    assert device_requests(GpuRequest(count=2)) == [{"Driver": "nvidia", "Capabilities": [["gpu"]], "Count": 2}]
    assert device_requests(GpuRequest(device_ids=["1"])) == [
        {"Driver": "nvidia", "Capabilities": [["gpu"]], "DeviceIDs": ["1"]}
    ]
    assert device_requests(None) == []


def test_a_node_offers_gpus_by_setting_or_by_its_nvidia_runtime() -> None:
    assert node_gpu_count({"Runtimes": {"runc": {}}}, -1) == 0
    assert node_gpu_count({"Runtimes": {"runc": {}, "nvidia": {}}}, -1) == -1
    assert node_gpu_count({"Runtimes": {}}, 4) == 4


def test_gpu_proposals_are_routed_only_to_gpu_workers() -> None:
    assert proposal_queue(None) == PROPOSALS_QUEUE
    assert proposal_queue(0) == PROPOSALS_QUEUE
    assert proposal_queue(1) == GPU_PROPOSALS_QUEUE
    assert proposal_queue(["0"]) == GPU_PROPOSALS_QUEUE
