"""A proposal's pipeline as plain functions: create → apply → test → build → cleanup.

Each stage takes and returns JSON-able data so that Celery can chain them across
processes; `run_pipeline` chains them in-process. Policy (`decide`) is pure.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sigma_exec.changes import normalise_path
from sigma_exec.errors import DockerUnavailableError, InvalidChangeError, SigmaExecError
from sigma_exec.executor import DockerExecutor
from sigma_exec.models import BuildResult, TestResult
from sigma_exec.settings import Settings

log = logging.getLogger(__name__)

OUTPUT_TAIL_CHARS = 4000
MAX_CASES_IN_OUTCOME = 200


class Stage(StrEnum):
    CREATE = "create"
    APPLY = "apply"
    TEST = "test"
    BUILD = "build"
    CLEANUP = "cleanup"


class ProposalStatus(StrEnum):
    EXECUTED = "executed"
    REJECTED = "rejected"
    ERROR = "error"


# An id becomes Redis keys, labels and log lines: printable, bounded.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Proposal(BaseModel):
    """What the agent asks to run."""

    model_config = ConfigDict(frozen=True)
    proposal_id: Identifier
    project_id: Identifier | int
    workspace: str
    language: str
    changes: list[dict[str, Any]] = Field(default_factory=list)
    test_command: str | None = None
    build_command: str | None = None
    gpus: int | str | list[str] | None = None


class StageRecord(BaseModel):
    name: Stage
    started_at: str
    duration_s: float
    ok: bool
    node: str = ""
    detail: str | None = None


class PipelineState(BaseModel):
    """Carried from stage to stage (and from task to task)."""

    proposal: Proposal
    node: str = ""
    container_id: str | None = None
    stages: list[StageRecord] = Field(default_factory=list)
    tests: dict[str, Any] | None = None
    build: dict[str, Any] | None = None
    status: ProposalStatus | None = None  # set once a verdict is known early (error / rejected)
    error: str | None = None
    reasons: list[str] = Field(default_factory=list)
    flagged_paths: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class ProposalOutcome(BaseModel):
    """The JSON outcome of DESIGN.md §4."""

    proposal_id: str
    project_id: str | int
    status: ProposalStatus
    error: str | None = None
    reasons: list[str] = Field(default_factory=list)
    tests: dict[str, Any] | None = None
    build: dict[str, Any] | None = None
    stages: list[StageRecord] = Field(default_factory=list)
    node: str = ""
    flagged_paths: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="e.g. dependency notes from create")


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL_CHARS else "…" + text[-OUTPUT_TAIL_CHARS:]


def summarize_tests(result: TestResult) -> dict[str, Any]:
    """A bounded JSON view of a test result (output tail, capped case list)."""
    data = result.model_dump(mode="json")
    data["output"] = _tail(result.output)
    data["cases"] = data["cases"][:MAX_CASES_IN_OUTCOME]
    return data


def summarize_build(result: BuildResult) -> dict[str, Any]:
    data = result.model_dump(mode="json")
    data["output"] = _tail(result.output)
    return data


def _timed(state: PipelineState, stage: Stage, body: Callable[[], tuple[bool, str | None]]) -> bool:
    started = datetime.now(UTC).isoformat()
    t0 = time.monotonic()
    ok, detail = body()
    state.stages.append(
        StageRecord(
            name=stage,
            started_at=started,
            duration_s=round(time.monotonic() - t0, 3),
            ok=ok,
            node=state.node,
            detail=detail,
        )
    )
    return ok


def _sandbox_lost(executor: DockerExecutor, state: PipelineState, stage: Stage) -> bool:
    """After a failed step: a sandbox that no longer runs makes the failure infrastructure's, not the code's.

    Marks the pipeline `error` then. Raises DockerUnavailableError when the engine does not answer
    (the Celery stage retries; in-process the pipeline ends `error`).
    """
    if state.container_id is None:
        return False
    found = executor.sandbox_state(state.container_id)
    if found is None:
        raise DockerUnavailableError(f"docker unavailable: the engine did not answer after the {stage} step failed")
    if found == "running":
        return False
    state.status = ProposalStatus.ERROR
    state.error = (
        f"the sandbox stopped during the {stage} stage (Docker engine restart, deadline or reaper); "
        "the step's result is not judged"
    )
    return True


def stage_create(executor: DockerExecutor, state: PipelineState, pipeline_id: str | None = None) -> PipelineState:
    p = state.proposal

    def body() -> tuple[bool, str | None]:
        result = executor.create_project_container(
            p.project_id, p.workspace, p.language, pipeline_id=pipeline_id or p.proposal_id, gpus=p.gpus
        )
        if not result.success:
            state.status, state.error = ProposalStatus.ERROR, f"create failed: {result.error}"
            return False, result.error
        state.container_id = result.container_id
        state.warnings = list(result.warnings)
        return True, result.image

    _timed(state, Stage.CREATE, body)
    return state


def protected_hits(changes: list[dict[str, Any]], patterns: list[str], workspace_files: list[str] = ()) -> list[str]:
    """Change paths that touch a PROTECTED_PATHS glob (pure).

    Paths are normalised like `apply_changes` does; deleting a directory touches every file under it.
    """
    hits: set[str] = set()
    for change in changes:
        if not isinstance(change, dict):
            continue
        try:
            path = normalise_path(change.get("filepath", change.get("path")))
        except InvalidChangeError:
            continue  # refused by apply_changes anyway
        under = [f for f in workspace_files if f.startswith(path + "/")] if change.get("delete") else []
        touched = [path, *under]
        if any(fnmatch.fnmatch(t, pat) for t in touched for pat in patterns) or (
            change.get("delete") and any(pat.startswith(path + "/") for pat in patterns)
        ):
            hits.add(path)
    return sorted(hits)


def _workspace_files(workspace: str, limit: int = 100_000) -> list[str]:
    """Relative file paths of the host workspace (links not followed), for protected-path checks."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(workspace, followlinks=False):
        rel = os.path.relpath(dirpath, workspace)
        found += [name if rel == "." else f"{rel}/{name}" for name in filenames]
        if len(found) > limit:
            break
        dirnames.sort()
    return found


def stage_apply(executor: DockerExecutor, state: PipelineState, settings: Settings) -> PipelineState:
    if state.status is not None or state.container_id is None:
        return state
    p = state.proposal
    patterns = [*settings.PROTECTED_PATHS, *executor.policy_for(p.project_id).paths.protected]
    deletes = any(isinstance(ch, dict) and ch.get("delete") for ch in p.changes)
    files = _workspace_files(p.workspace) if patterns and deletes else []
    state.flagged_paths = protected_hits(p.changes, patterns, files)

    def body() -> tuple[bool, str | None]:
        result = executor.apply_changes(state.container_id, p.changes)
        if not result.success and result.bad_path is None and _sandbox_lost(executor, state, Stage.APPLY):
            return False, result.error
        if not result.success:
            invalid = (
                result.bad_path is not None or "filepath" in (result.error or "") or "change" in (result.error or "")
            )
            state.status = ProposalStatus.REJECTED if invalid else ProposalStatus.ERROR
            state.error = f"changes not applied: {result.error}"
            return False, result.error
        return True, f"{len(result.applied)} written, {len(result.deleted)} deleted"

    _timed(state, Stage.APPLY, body)
    return state


def stage_test(executor: DockerExecutor, state: PipelineState, settings: Settings) -> PipelineState:
    if state.status is not None or state.container_id is None or not settings.AUTO_TEST:
        return state
    p = state.proposal

    def body() -> tuple[bool, str | None]:
        result = executor.run_tests(state.container_id, p.language, p.test_command, timeout=settings.TEST_TIMEOUT)
        state.tests = summarize_tests(result)
        if not result.success:
            _sandbox_lost(executor, state, Stage.TEST)
        return result.success, result.error

    _timed(state, Stage.TEST, body)
    return state


def stage_build(executor: DockerExecutor, state: PipelineState, settings: Settings) -> PipelineState:
    if state.status is not None or state.container_id is None or not settings.AUTO_BUILD:
        return state
    p = state.proposal

    def body() -> tuple[bool, str | None]:
        result = executor.run_build(state.container_id, p.language, p.build_command, timeout=settings.BUILD_TIMEOUT)
        state.build = summarize_build(result)
        if not result.success:
            _sandbox_lost(executor, state, Stage.BUILD)
        return result.success, result.error

    _timed(state, Stage.BUILD, body)
    return state


def stage_cleanup(executor: DockerExecutor, state: PipelineState) -> PipelineState:
    """Always safe to run, and to run twice.

    Raises DockerUnavailableError when the sandbox may still exist and the engine did not remove it
    (e.g. mid-restart): the Celery stage retries; the reaper removes it otherwise.
    """

    def body() -> tuple[bool, str | None]:
        if state.container_id and not executor.stop_container(state.container_id):
            found = executor.sandbox_state(state.container_id)
            if found != "gone":
                raise DockerUnavailableError(
                    f"docker unavailable: sandbox {state.container_id[:12]} not removed (it is {found or 'unknown'})"
                )
        return True, None

    _timed(state, Stage.CLEANUP, body)
    return state


def decide(state: PipelineState, settings: Settings) -> ProposalOutcome:
    """The verdict from the stages' results and the policy in settings (pure)."""
    reasons = list(state.reasons)
    status = state.status
    if status is None:
        reasons += _test_reasons(state.tests, settings) + _build_reasons(state.build, settings)
        if state.flagged_paths:
            reasons.append(f"changes touch protected paths: {', '.join(state.flagged_paths)}")
        status = ProposalStatus.REJECTED if reasons else ProposalStatus.EXECUTED
    p = state.proposal
    return ProposalOutcome(
        proposal_id=p.proposal_id,
        project_id=p.project_id,
        status=status,
        error=state.error or ("; ".join(reasons) if reasons else None),
        reasons=reasons or ([state.error] if state.error else []),
        tests=state.tests,
        build=state.build,
        stages=state.stages,
        node=state.node,
        flagged_paths=state.flagged_paths,
        warnings=state.warnings,
    )


def _test_reasons(tests: dict[str, Any] | None, settings: Settings) -> list[str]:
    if not settings.AUTO_TEST or tests is None:
        return []
    reasons = []
    if tests.get("timed_out"):
        reasons.append(f"tests timed out after {settings.TEST_TIMEOUT}s")
    elif not tests.get("success"):
        failed = (tests.get("tests_failed") or 0) + (tests.get("tests_errored") or 0)
        if tests.get("tests_passed") == 0 and tests.get("tests_failed") == 0:  # counted, and none ran
            reasons.append(f"no test ran ({failed} errored): {tests.get('error') or 'see output'}")
        else:
            reasons.append(f"tests failed ({failed} failed or errored): {tests.get('error') or 'see output'}")
    coverage = tests.get("coverage_percent")
    if settings.MIN_TEST_COVERAGE > 0:
        if coverage is None:
            reasons.append(f"coverage unknown; MIN_TEST_COVERAGE is {settings.MIN_TEST_COVERAGE}%")
        elif coverage < settings.MIN_TEST_COVERAGE:
            reasons.append(f"coverage {coverage}% is below the minimum of {settings.MIN_TEST_COVERAGE}%")
    return reasons


def _build_reasons(build: dict[str, Any] | None, settings: Settings) -> list[str]:
    if not settings.AUTO_BUILD or build is None or build.get("success"):
        return []
    return [f"build failed: {build.get('error') or 'see output'}"]


def run_pipeline(
    executor: DockerExecutor,
    proposal: Proposal,
    settings: Settings,
    progress: Callable[[Stage], None] | None = None,
) -> ProposalOutcome:
    """The whole pipeline in this process; cleanup always runs."""
    state = PipelineState(proposal=proposal, node=settings.node)
    try:
        for stage, step in (
            (Stage.CREATE, lambda s: stage_create(executor, s)),
            (Stage.APPLY, lambda s: stage_apply(executor, s, settings)),
            (Stage.TEST, lambda s: stage_test(executor, s, settings)),
            (Stage.BUILD, lambda s: stage_build(executor, s, settings)),
        ):
            if progress:
                progress(stage)
            state = step(state)
    except SigmaExecError as exc:  # the engine went away mid-stage: infrastructure, not the proposal
        state.status, state.error = ProposalStatus.ERROR, str(exc)
    finally:
        if progress:
            progress(Stage.CLEANUP)
        try:
            state = stage_cleanup(executor, state)
        except SigmaExecError as exc:  # nothing to retry with in-process: the reaper removes it later
            log.warning("pipeline %s: cleanup failed: %s", proposal.proposal_id, exc)
    return decide(state, settings)
