"""Permanent engine errors end at once with the engine's message; a refused batch is not an engine failure."""

from __future__ import annotations

import time
from pathlib import Path

from sigma_exec import DockerExecutor, Settings
from sigma_exec.pipeline import PipelineState, Proposal, ProposalStatus, stage_apply, stage_create
from tests.conftest import SAMPLE


def test_a_missing_sandbox_runtime_fails_create_at_once_with_the_engines_message(project_id: str) -> None:
    executor = DockerExecutor(Settings(SIGMA_NODE="test-node", SANDBOX_RUNTIME="sigma-no-such-runtime"))
    started = time.monotonic()
    result = executor.create_project_container(project_id, str(SAMPLE), "python")
    assert not result.success and "sigma-no-such-runtime" in (result.error or ""), result.error
    assert not (result.error or "").startswith("docker unavailable")
    assert time.monotonic() - started < 30
    assert executor.cleanup_project(project_id).removed_containers == []


def _created(executor: DockerExecutor, project_id: str, changes: list[dict]) -> PipelineState:
    proposal = Proposal(
        proposal_id="typed", project_id=project_id, workspace=str(SAMPLE), language="python", changes=changes
    )
    state = stage_create(executor, PipelineState(proposal=proposal, node="test-node"))
    assert state.container_id, state.error
    return state


def test_a_batch_the_sandbox_refuses_is_a_rejection(executor: DockerExecutor, project_id: str) -> None:
    state = _created(executor, project_id, [{"filepath": "out/x.py", "content": "x = 1\n"}])
    assert executor.execute_in_container(state.container_id, "ln -s /etc out").success
    state = stage_apply(executor, state, Settings(SIGMA_NODE="test-node"))
    assert state.status == ProposalStatus.REJECTED and "out" in (state.error or ""), state.error
    executor.stop_container(state.container_id)


def test_a_sandbox_gone_during_apply_is_an_error_not_a_rejection(executor: DockerExecutor, project_id: str) -> None:
    state = _created(executor, project_id, [{"filepath": "calc.py", "content": "x = 1\n"}])
    assert executor.stop_container(state.container_id)
    state = stage_apply(executor, state, Settings(SIGMA_NODE="test-node"))
    assert state.status == ProposalStatus.ERROR, state.error


def test_removing_a_container_twice_is_not_an_error(executor: DockerExecutor, sandbox, tmp_path: Path) -> None:
    cid = sandbox()
    assert executor.stop_container(cid) is True
    assert executor.stop_container(cid) is False


def test_an_oci_runtime_error_at_start_is_permanent_with_the_engines_message(
    executor: DockerExecutor, project_id: str
) -> None:
    import pytest

    from sigma_exec.errors import SandboxError
    from sigma_exec.images import ensure_base_image
    from sigma_exec.languages import resolve_language
    from sigma_exec.spec import build_container_spec

    engine = executor.backend
    assert engine is not None
    image = ensure_base_image(engine, resolve_language("python"), executor.settings)
    spec = build_container_spec(executor.settings, image=image, project_id=project_id, language="python", env={})
    spec = spec.model_copy(update={"command": ["/etc"], "init": False})  # the OCI runtime refuses to exec it
    container_id = engine.create_container(spec)
    try:
        with pytest.raises(SandboxError) as caught:
            engine.start(container_id)
        assert caught.value.retryable is False and "OCI runtime create failed" in str(caught.value)
    finally:
        engine.remove(container_id)
