"""A proposal's pipeline as plain functions: create → apply → test → build → cleanup.

Each stage takes and returns JSON-able data so that Celery can chain them across
processes; `run_pipeline` chains them in-process. Policy (`decide`) is pure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from sigma_exec import reruns
from sigma_exec.baselines import (
    BaselineCache,
    BaselineRecord,
    BaselineSummary,
    MemoryBaselineCache,
    baseline_key,
)
from sigma_exec.changes import Change, check_batch, validate_changes
from sigma_exec.errors import DockerUnavailableError, InvalidChangeError, SigmaExecError
from sigma_exec.executor import DockerExecutor
from sigma_exec.languages import framework_by_name, resolve_language
from sigma_exec.models import MAX_TEST_ID_CHARS, BuildResult, TestResult
from sigma_exec.policy import effective_settings, path_hits
from sigma_exec.settings import RerunMode, Settings, VerdictPolicy
from sigma_exec.verdicts import ChangedPaths, Transitions, VerdictRules, grade_tests, transitions

log = logging.getLogger(__name__)

OUTPUT_TAIL_CHARS = 4000
MAX_CASES_IN_OUTCOME = 200


class Stage(StrEnum):
    CREATE = "create"
    BASELINE = "baseline"
    APPLY = "apply"
    TEST = "test"
    BUILD = "build"
    CLEANUP = "cleanup"


class ProposalStatus(StrEnum):
    EXECUTED = "executed"
    REJECTED = "rejected"
    ERROR = "error"


PRINTABLE_LINE = r"^[^\x00-\x1f\x7f]+$"
# An id becomes Redis keys, labels and log lines: printable, bounded.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PRINTABLE_LINE)]
# A test id as `TestResult.cases` names it: one printable line.
TestId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEST_ID_CHARS, pattern=PRINTABLE_LINE)]
MAX_TARGET_TESTS = 1000
MAX_PATHS_KEPT = 5000
SIGNALLED_EXIT = 128  # an exit code from here on: the step's process ended by a signal
STOP_SETTLE_TRIES = 5  # after a signalled step, how often a sandbox still read as running is asked again
STOP_SETTLE_S = 0.2


class Proposal(BaseModel):
    """What the agent asks to run."""

    model_config = ConfigDict(frozen=True)
    proposal_id: Identifier
    project_id: Identifier | int
    workspace: str
    language: str
    changes: list[Change] = Field(default_factory=list, description="parsed once here: normalised paths")
    test_command: str | None = None
    build_command: str | None = None
    gpus: int | str | list[str] | None = None
    target_tests: list[TestId] = Field(
        default_factory=list, max_length=MAX_TARGET_TESTS, description="must-fix: ids that the change must fix"
    )

    @field_validator("changes", mode="after")
    @classmethod
    def _one_batch(cls, changes: list[Change]) -> list[Change]:
        try:
            check_batch(changes)
        except InvalidChangeError as exc:
            raise ValueError(str(exc)) from None
        return changes


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
    prebuilt: dict[str, Any] | None = None  # the build, run after the tests in their exec (the build stage's)
    status: ProposalStatus | None = None  # set once a verdict is known early (error / rejected)
    error: str | None = None
    reasons: list[str] = Field(default_factory=list)
    flagged_paths: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    framework: str | None = None
    image_id: str | None = None
    workspace_digest: str | None = None
    baseline_record: BaselineRecord | None = None  # until the test stage has compared against it
    baseline: BaselineSummary | None = None
    changed: ChangedPaths = Field(default_factory=ChangedPaths)
    transitions: Transitions | None = None
    test_reasons: list[str] | None = None  # None: not judged by the test stage (decide judges `tests`)
    policy: VerdictPolicy | None = None  # the project's, as the test stage applied it


class ProposalOutcome(BaseModel):
    """The JSON outcome of DESIGN.md §4.

    The verdict and why come first, the bulky parts (stages, build, tests with their output) last: a
    viewer that shows only the start of a result (Flower cuts at about a thousand characters) still
    shows the status, the reasons and the transitions.
    """

    proposal_id: str
    project_id: str | int
    status: ProposalStatus
    error: str | None = None
    reasons: list[str] = Field(default_factory=list)
    policy: VerdictPolicy = VerdictPolicy.ALL_GREEN
    transitions: Transitions | None = Field(None, description="per-test transitions from the baseline")
    baseline: BaselineSummary | None = Field(None, description="the baseline's counts; cached or run")
    node: str = ""
    flagged_paths: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="e.g. dependency notes from create")
    stages: list[StageRecord] = Field(default_factory=list)
    build: dict[str, Any] | None = None
    tests: dict[str, Any] | None = None


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


def _sandbox_lost(executor: DockerExecutor, state: PipelineState, stage: Stage, *, exit_code: int | None = 0) -> bool:
    """After a failed step: a sandbox that no longer runs makes the failure infrastructure's, not the code's.

    Marks the pipeline `error` then. Raises DockerUnavailableError when the engine does not answer
    (the Celery stage retries; in-process the pipeline ends `error`). A step that ended by a signal (or with no
    exit code) may have been killed with its sandbox: its stream closes a moment before the engine reads the
    sandbox as stopped, so a sandbox still running then is asked again, a few times (bounded).
    """
    if state.container_id is None:
        return False
    found = executor.sandbox_state(state.container_id)
    signalled = exit_code is None or exit_code >= SIGNALLED_EXIT
    for _ in range(STOP_SETTLE_TRIES if signalled else 0):
        if found != "running":
            break
        time.sleep(STOP_SETTLE_S)
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
        state.framework, state.image_id = result.framework, result.image_id
        state.workspace_digest = result.workspace_digest
        return True, f"{result.image} (prepared)" if result.prepared else result.image

    _timed(state, Stage.CREATE, body)
    return state


def stage_baseline(
    executor: DockerExecutor, state: PipelineState, settings: Settings, cache: BaselineCache
) -> PipelineState:
    """Run (or reuse) the project's tests on the workspace as it is, before the change."""
    if state.status is not None or state.container_id is None:
        return state
    p = state.proposal
    rules = effective_settings(settings, executor.policy_for(p.project_id))
    if not (settings.AUTO_TEST and rules.BASELINE_TESTS) or not (state.workspace_digest and state.image_id):
        return state
    try:  # a batch that apply will refuse needs no baseline
        validate_changes(p.changes, max_files=settings.MAX_CHANGE_FILES, max_bytes=settings.MAX_CHANGE_MB << 20)
    except InvalidChangeError:
        return state
    rerun = rules.RERUN_FAILED != RerunMode.NEVER
    key = baseline_key(
        workspace_digest=state.workspace_digest,
        image_id=state.image_id,
        language=str(p.language).strip().lower(),
        framework=state.framework or "",
        framework_definition=framework_definition(p.language, state.framework),
        test_command=p.test_command,
        rerun=rerun,
    )

    def body() -> tuple[bool, str | None]:
        cached = cache.get(key)
        if cached is not None:
            state.baseline_record, state.baseline = cached, cached.summary(cached=True)
            return True, "cached"
        result = executor.run_tests(
            state.container_id, p.language, p.test_command, timeout=settings.TEST_TIMEOUT, rerun_failed=rerun
        )
        if not result.success and _sandbox_lost(executor, state, Stage.BASELINE, exit_code=result.exit_code):
            return False, result.error
        record = BaselineRecord.from_result(key, result)
        state.baseline_record, state.baseline = record, record.summary(cached=False)
        if not result.timed_out:
            cache.put(record, settings.BASELINE_CACHE_TTL_SECONDS)
        return True, f"{result.tests_passed} passed, {result.tests_failed} failed, {len(result.flaky)} flaky"

    _timed(state, Stage.BASELINE, body)
    return state


def framework_definition(language: str, framework: str | None) -> str:
    """The framework's configuration as text (a baseline is only reused with the same one)."""
    try:
        found = framework_by_name(resolve_language(language), framework)
    except SigmaExecError:
        return ""
    return found.model_dump_json() if found else ""


def stage_apply(executor: DockerExecutor, state: PipelineState, settings: Settings) -> PipelineState:
    if state.status is not None or state.container_id is None:
        return state
    p = state.proposal
    patterns = [*settings.PROTECTED_PATHS, *executor.policy_for(p.project_id).paths.protected]

    def body() -> tuple[bool, str | None]:
        result = executor.apply_changes(state.container_id, p.changes)
        if not result.success and not result.refused and _sandbox_lost(executor, state, Stage.APPLY):
            return False, result.error
        if not result.success:
            state.status = ProposalStatus.REJECTED if result.refused else ProposalStatus.ERROR
            state.error = f"changes not applied: {result.error}"
            return False, result.error
        state.changed = ChangedPaths(written=result.applied[:MAX_PATHS_KEPT], deleted=result.deleted[:MAX_PATHS_KEPT])
        state.flagged_paths = path_hits(result.touched, result.deleted, patterns)
        return True, f"{len(result.applied)} written, {len(result.deleted)} deleted"

    _timed(state, Stage.APPLY, body)
    return state


def stage_test(executor: DockerExecutor, state: PipelineState, settings: Settings) -> PipelineState:
    if state.status is not None or state.container_id is None or not settings.AUTO_TEST:
        return state
    p = state.proposal
    rules = effective_settings(settings, executor.policy_for(p.project_id))

    def body() -> tuple[bool, str | None]:
        rerun_failed = rules.RERUN_FAILED == RerunMode.ALWAYS
        if settings.AUTO_BUILD:  # the build runs after the tests in their exec when they exit 0
            result, built = executor.run_tests_then_build(
                state.container_id,
                p.language,
                p.test_command,
                p.build_command,
                timeout=settings.TEST_TIMEOUT,
                build_timeout=settings.BUILD_TIMEOUT,
                rerun_failed=rerun_failed,
            )
            state.prebuilt = summarize_build(built) if built is not None else None
        else:
            result = executor.run_tests(
                state.container_id, p.language, p.test_command, timeout=settings.TEST_TIMEOUT, rerun_failed=rerun_failed
            )
        if not result.success and _sandbox_lost(executor, state, Stage.TEST, exit_code=result.exit_code):
            state.tests = summarize_tests(result)
            return False, result.error
        baseline = state.baseline_record
        if baseline is not None and baseline.usable and result.cases:
            state.transitions = transitions(baseline, result, state.changed)
            suspects = state.transitions.broken + state.transitions.new_failing
            left = reruns.time_left(settings.TEST_TIMEOUT, result.execution_time)
            if suspects and rules.RERUN_FAILED == RerunMode.BASELINE and not result.rerun_cases and left:
                # Confirm a regression before it rejects: a case that passes when run again is flaky.
                again = executor.rerun_tests(state.container_id, suspects, p.language, timeout=left)
                state.prebuilt = None  # the build stage builds after this run, as it would have
                if again.cases:
                    result = reruns.with_rerun(result, again)
                    state.transitions = transitions(baseline, result, state.changed)
        state.tests, state.policy = summarize_tests(result), rules.VERDICT_POLICY
        state.test_reasons = grade_tests(
            result,
            baseline,
            state.transitions,
            _verdict_rules(rules, p.target_tests),
            timeout_s=settings.TEST_TIMEOUT,
        )
        state.baseline_record = None  # compared: later messages need not carry every case's status
        return result.success, result.error

    _timed(state, Stage.TEST, body)
    return state


def stage_build(executor: DockerExecutor, state: PipelineState, settings: Settings) -> PipelineState:
    if state.status is not None or state.container_id is None or not settings.AUTO_BUILD:
        return state
    p = state.proposal

    def body() -> tuple[bool, str | None]:
        if state.prebuilt is not None:  # it ran after the tests, in their exec; nothing ran since
            state.build, state.prebuilt = state.prebuilt, None
            return bool(state.build.get("success")), state.build.get("error") or "ran after the tests, in their exec"
        result = executor.run_build(state.container_id, p.language, p.build_command, timeout=settings.BUILD_TIMEOUT)
        state.build = summarize_build(result)
        if not result.success:
            _sandbox_lost(executor, state, Stage.BUILD, exit_code=result.exit_code)
        return result.success, result.error

    _timed(state, Stage.BUILD, body)
    return state


def stage_cleanup(executor: DockerExecutor, state: PipelineState) -> PipelineState:
    """Always safe to run, and to run twice.

    Raises DockerUnavailableError when the sandbox may still exist and the engine did not remove it
    (e.g. mid-restart): the Celery stage retries; the reaper removes it otherwise.
    """

    def body() -> tuple[bool, str | None]:
        # With a warm pool the removal happens in its thread (and the project's next sandbox is prepared).
        if state.container_id and not executor.release_container(state.container_id):
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
        if settings.AUTO_TEST and state.tests is not None:
            reasons += state.test_reasons if state.test_reasons is not None else _judge_tests(state.tests, settings)
        reasons += _build_reasons(state.build, settings)
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
        policy=state.policy or settings.VERDICT_POLICY,
        transitions=state.transitions,
        baseline=state.baseline,
    )


def _verdict_rules(settings: Settings, target_tests: Sequence[str] = ()) -> VerdictRules:
    """The verdict rules `settings` (a deployment's, or a project's effective ones) set."""
    return VerdictRules(
        policy=settings.VERDICT_POLICY,
        coverage_rule=settings.COVERAGE_RULE,
        min_coverage=settings.MIN_TEST_COVERAGE,
        target_tests=list(target_tests),
    )


def _judge_tests(tests: dict[str, Any], settings: Settings) -> list[str]:
    """Reasons from a test result alone, under the deployment's rules (no baseline to compare with)."""
    rules = _verdict_rules(settings)
    return grade_tests(TestResult.model_validate(tests), None, None, rules, timeout_s=settings.TEST_TIMEOUT)


def _build_reasons(build: dict[str, Any] | None, settings: Settings) -> list[str]:
    if not settings.AUTO_BUILD or build is None or build.get("success"):
        return []
    return [f"build failed: {build.get('error') or 'see output'}"]


_PROCESS_BASELINES = MemoryBaselineCache()


def run_pipeline(
    executor: DockerExecutor,
    proposal: Proposal,
    settings: Settings,
    progress: Callable[[Stage], None] | None = None,
    baselines: BaselineCache | None = None,
) -> ProposalOutcome:
    """The whole pipeline in this process; cleanup always runs.

    Baselines are reused from `baselines` (default: this process's memory; Celery workers share Redis).
    """
    state = PipelineState(proposal=proposal, node=settings.node)
    cache = baselines if baselines is not None else _PROCESS_BASELINES
    try:
        for stage, step in (
            (Stage.CREATE, lambda s: stage_create(executor, s)),
            (Stage.BASELINE, lambda s: stage_baseline(executor, s, settings, cache)),
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
