"""A registry shared by nodes: builds are pushed once and pulled elsewhere; a dead registry only warns."""

from __future__ import annotations

import shutil
import socket
import uuid
from pathlib import Path

from sigma_exec import DockerExecutor, Settings
from sigma_exec.images import base_image_ref
from sigma_exec.languages import resolve_language

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "py_deps"


def _node(registry: str, prefix: str) -> DockerExecutor:
    return DockerExecutor(Settings(SIGMA_NODE="test-node", DOCKER_REGISTRY=registry, DOCKER_IMAGE_PREFIX=prefix))


def _seed_base(executor: DockerExecutor, settings_ref: str) -> None:
    """Tag the locally built base image under the registry's name (stands in for a first build)."""
    local = base_image_ref(resolve_language("python"), Settings())
    assert executor.backend is not None
    repository, tag = settings_ref.rsplit(":", 1)
    executor.backend.tag_image(local, repository, tag)


def test_a_second_node_pulls_the_first_nodes_build_instead_of_building(
    registry: str, tmp_path: Path, project_id: str
) -> None:
    prefix = f"sigma-reg-{uuid.uuid4().hex[:8]}"
    node_a = _node(registry, prefix)
    base_ref = base_image_ref(resolve_language("python"), node_a.settings)
    _seed_base(node_a, base_ref)
    workspace = tmp_path / "proj"
    shutil.copytree(SAMPLE, workspace)
    seen_a: list[str] = []
    first = node_a.create_project_container(project_id, str(workspace), "python", progress=seen_a.append)
    assert first.success, first.error
    assert any("building dependency layer" in m for m in seen_a)
    assert any(m.startswith("pushed") for m in seen_a)
    node_a.cleanup_project(project_id)

    # Node B: same registry, none of the images locally.
    assert node_a.backend is not None
    assert node_a.backend.remove_image(first.image or "")
    node_b = _node(registry, prefix)
    seen_b: list[str] = []
    second = node_b.create_project_container(project_id, str(workspace), "python", progress=seen_b.append)
    assert second.success and second.image == first.image
    assert any(m.startswith("pulled") for m in seen_b)
    assert not any("building" in m for m in seen_b)
    assert node_b.run_tests(second.container_id, "python").tests_passed == 1
    node_b.cleanup_project(project_id)
    for ref in (first.image or "", base_ref):
        node_b.backend.remove_image(ref)  # type: ignore[union-attr]


def test_a_registry_that_is_down_degrades_to_a_local_build(tmp_path: Path, project_id: str) -> None:
    prefix = f"sigma-reg-{uuid.uuid4().hex[:8]}"
    with socket.socket() as probe:  # a port nobody listens on: the registry is down
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    node = _node(dead, prefix)
    base_ref = base_image_ref(resolve_language("python"), node.settings)
    _seed_base(node, base_ref)
    workspace = tmp_path / "proj"
    shutil.copytree(SAMPLE, workspace)
    result = node.create_project_container(project_id, str(workspace), "python")
    assert result.success, result.error
    node.cleanup_project(project_id)
    node.backend.remove_image(result.image or "")  # type: ignore[union-attr]
    node.backend.remove_image(base_ref)  # type: ignore[union-attr]
