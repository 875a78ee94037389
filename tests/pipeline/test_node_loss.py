"""Two nodes for real: two Docker engines on this machine, a worker each, one Redis; node B lost whole.

Node A is the machine's engine; node B is a second `dockerd` the test starts (`engines.Engine`: its own
data root, exec root, socket, containerd and images). A pipeline runs on B until it is in the stage under
test; then B is lost whole (its worker's process group, its sandboxes, shims, containerd and dockerd all
SIGKILLed) and A starts. The ledger sees B's worker gone (or B's node silent) and the proposal runs
again from create on A, ending within `TERMINAL_BOUND_S` of the loss, recorded once. Then B comes back:
its start-up reap removes the sandbox of the lost run, and the messages it had left (its node queue,
its unacknowledged stage) do nothing: the outcome stays the one recorded.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import Engine
from pipeline_helpers import FAST_LEDGER, Cluster, stage_running, submit_sample, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]

# Heartbeats every 2 s: B's worker is known gone at once on this machine (its pid), a node silent for
# NODE_LOST_SECONDS (3 heartbeats + 5 s) is lost; the re-run then takes what a pipeline takes.
NODES = {**FAST_LEDGER, "AUTO_BUILD": "true"}
TERMINAL_BOUND_S = 90
# `make test` loses the node at create and at test (and with a stage queued on it); `make nodes` adds the
# other stages and the registry across engines (SIGMA_NODES_FULL=1).
FULL = pytest.mark.skipif(os.environ.get("SIGMA_NODES_FULL") != "1", reason="run by `make nodes`")
SLOW = {"test_command": "sleep 3; echo slow tests", "build_command": "sleep 3; echo slow build"}
# Tests that pass run the build after them, in their own exec (the build stage then only takes its result); tests
# that fail leave the build its own exec in the build stage, where the `build` variant loses the node.
FAILING_SLOW = {**SLOW, "test_command": "sleep 1; echo slow failing tests; exit 1"}


@pytest.fixture(scope="module")
def engine_b(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from sigma_exec.images import base_image_ref
    from sigma_exec.languages import load_profiles
    from sigma_exec.settings import Settings

    engine = Engine(Path(tmp_path_factory.mktemp("engine-b", numbered=True)))
    engine.start()
    try:
        engine.load_images([base_image_ref(load_profiles()["python"], Settings())])
        yield engine
    finally:
        engine.stop()


def test_the_second_engine_leaves_the_machines_engine_its_bridge(engine_b: Engine) -> None:
    """Regression: a dockerd started with --bridge=none deleted docker0, the main engine's default bridge."""
    import subprocess

    assert engine_b.answers()
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True, check=False).returncode == 0
    assert subprocess.run(["ip", "link", "show", engine_b.bridge], capture_output=True, check=False).returncode == 0


def sandboxes_on(engine: Engine, pipeline_id: str) -> list[str]:
    found = engine.docker("ps", "-aq", "--filter", f"label=sigma.pipeline={pipeline_id}", check=False)
    return found.stdout.decode().split()


@pytest.mark.parametrize(
    "stage", ["create", pytest.param("baseline", marks=FULL), "test", pytest.param("build", marks=FULL)]
)
def test_a_node_lost_whole_mid_stage_costs_its_proposals_a_rerun_elsewhere_and_nothing_else(
    cluster: Cluster, engine_b: Engine, stage: str, project_id: str
) -> None:
    from tasks import runtime

    if not engine_b.answers():
        engine_b.start()
    # Given a pipeline running its `stage` on node B
    node_b = cluster.worker("nodeB", name="b", concurrency=1, DOCKER_HOST=engine_b.host, **NODES)
    result = submit_sample(project_id, "node-loss", **(FAILING_SLOW if stage == "build" else SLOW))
    wait_until(lambda: stage_running(result.id, stage), 60, interval_s=0.02, what=f"{stage} running on nodeB")
    assert runtime.store().lease(result.id)["node"] == "nodeB"

    # When node B is lost whole, and node A is (or comes) up
    node_b.kill_group(signal.SIGKILL)
    engine_b.kill()
    node_b.popen.wait(timeout=10)
    lost_at = time.monotonic()
    node_a = cluster.worker("nodeA", name="a", concurrency=2, **NODES)

    # Then the proposal runs again from create on A and ends once, within the bound
    outcome = result.get(timeout=TERMINAL_BOUND_S)
    elapsed = time.monotonic() - lost_at
    assert elapsed < TERMINAL_BOUND_S
    assert outcome["status"] == ("rejected" if stage == "build" else "executed"), outcome
    assert outcome["node"] == "nodeA" and {s["node"] for s in outcome["stages"]} == {"nodeA"}
    assert "re-run 1" in node_a.text() and "nodeB" in node_a.text()
    print(f"node lost during {stage}: terminal {elapsed:.1f}s after the loss")

    # And when B comes back, its leftovers do nothing: the sandbox of the lost run is reaped at start-up,
    # its queued or unacknowledged messages are fenced off, and the outcome stays the one recorded.
    engine_b.start()
    back = cluster.worker("nodeB", name="b2", concurrency=1, DOCKER_HOST=engine_b.host, **NODES)
    wait_until(lambda: sandboxes_on(engine_b, result.id) == [], 60, what="B's leftover sandbox reaped")
    time.sleep(3)  # time for whatever B still had queued to be consumed
    assert runtime.store().outcome(outcome["proposal_id"]) == outcome
    assert "Traceback" not in back.text()


def test_a_stage_queued_on_a_lost_node_is_rerun_once_the_node_is_known_lost(
    cluster: Cluster, engine_b: Engine, project_ids: Any
) -> None:
    from tasks import runtime

    if not engine_b.answers():
        engine_b.start()
    # Given node B (one slot) running one pipeline's slow stage while another's next stage waits on its queue
    node_b = cluster.worker("nodeB", name="b", concurrency=1, DOCKER_HOST=engine_b.host, **NODES)
    results = [submit_sample(project_ids(), "node-queued", **SLOW) for _ in range(2)]

    def waiting_on_b() -> str | None:
        for result in results:
            position = runtime.store().lease(result.id) or {}
            queued_on_b = position.get("queue") == "node.nodeB" and position.get("state") == "queued"
            if queued_on_b and position.get("stage") not in ("create", "baseline"):
                return result.id
        return None

    waiting = wait_until(waiting_on_b, 90, interval_s=0.02, what="a stage queued on nodeB")

    # When node B is lost whole and node A comes up
    node_b.kill_group(signal.SIGKILL)
    engine_b.kill()
    node_b.popen.wait(timeout=10)
    lost_at = time.monotonic()
    node_a = cluster.worker("nodeA", name="a", concurrency=2, **NODES)

    # Then both end executed on A; the queued one was judged lost with its node
    outcomes = [result.get(timeout=TERMINAL_BOUND_S) for result in results]
    assert time.monotonic() - lost_at < TERMINAL_BOUND_S
    assert [o["status"] for o in outcomes] == ["executed", "executed"], outcomes
    assert {o["node"] for o in outcomes} == {"nodeA"}
    assert "node nodeB lost" in node_a.text(), f"{waiting} was not judged with its node"


@FULL
def test_a_second_engine_pulls_the_first_nodes_images_through_the_registry(
    engine_b: Engine, registry: str, tmp_path: Path, project_id: str
) -> None:
    """Node B (an engine without any image) gets node A's base and dependency layer by pulling them."""
    import shutil
    import uuid

    from sigma_exec import DockerExecutor, Settings
    from sigma_exec.docker_backend import DockerBackend
    from sigma_exec.images import base_image_ref
    from sigma_exec.languages import resolve_language

    if not engine_b.answers():
        engine_b.start()
    settings = Settings(SIGMA_NODE="nodeA", DOCKER_REGISTRY=registry, DOCKER_IMAGE_PREFIX=f"reg-{uuid.uuid4().hex[:8]}")
    workspace = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parents[1] / "samples" / "py_deps", workspace)

    # Node A: its base image under the registry's name (as its own first build would push it), then a
    # create that builds the project's dependency layer and pushes it
    node_a = DockerExecutor(settings)
    assert node_a.backend is not None
    base_ref = base_image_ref(resolve_language("python"), settings)
    repository, tag = base_ref.rsplit(":", 1)
    node_a.backend.tag_image(base_image_ref(resolve_language("python"), Settings()), repository, tag)
    assert node_a.backend.push(base_ref) is None
    first = node_a.create_project_container(project_id, str(workspace), "python")
    assert first.success, first.error
    node_a.cleanup_project(project_id)

    # Node B: its own engine, none of these images (nor the plain base the node-loss tests loaded)
    engine_b.docker("rmi", "-f", base_image_ref(resolve_language("python"), Settings()), check=False)
    node_b = DockerExecutor(settings.model_copy(update={"SIGMA_NODE": "nodeB"}), backend=DockerBackend(engine_b.host))
    assert engine_b.docker("image", "inspect", first.image or "", check=False).returncode != 0
    seen: list[str] = []
    started = time.monotonic()
    second = node_b.create_project_container(project_id, str(workspace), "python", progress=seen.append)
    first_create_s = time.monotonic() - started
    try:
        assert second.success and second.image == first.image, second.error
        assert any(m.startswith("pulled") for m in seen) and not any("building" in m for m in seen), seen
        assert node_b.run_tests(second.container_id, "python").tests_passed == 1
        print(f"node B's first create through the registry: {first_create_s:.1f}s")
    finally:
        node_b.cleanup_project(project_id)
        node_a.backend.remove_image(first.image or "")
        node_a.backend.remove_image(base_ref)
