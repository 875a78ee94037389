"""`DockerExecutor`: the seed's library API over the sandbox, images and Docker boundary.

Every public method returns a result model; a failed operation is `success=False`
with an error that names the bad value, never an exception.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from sigma_exec import cgroups, commands, reruns
from sigma_exec import constants as c
from sigma_exec.archive import content_digest, read_regular_files, workspace_tar
from sigma_exec.changes import Change
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.egress import (
    BRIDGE_NETWORK,
    LABEL_EGRESS_FOR,
    close_egress_of,
    effective_allowlist,
    ensure_bridge,
    open_egress,
)
from sigma_exec.errors import ContainerNotFoundError, InvalidRequestError, SigmaExecError
from sigma_exec.gpu import GpuRequest, device_requests, node_gpu_count, parse_gpu_request
from sigma_exec.images import ensure_base_image, ensure_project_image
from sigma_exec.languages import (
    CONFIG_DIR,
    Framework,
    LanguageProfile,
    framework_by_name,
    list_workspace_files,
    resolve_language,
    select_framework,
)
from sigma_exec.models import (
    BuildResult,
    ChangeResult,
    CleanupResult,
    CreateResult,
    ExecutionResult,
    TestResult,
)
from sigma_exec.outcomes import build_result, execution_result, judge_tests, read_reports
from sigma_exec.output import sanitize_text
from sigma_exec.policy import NetworkMode, ProjectPolicy, effective_settings, load_policy
from sigma_exec.pool import ROLE_POOL, WarmPool
from sigma_exec.reaper import ReapReport, collect_images, reap
from sigma_exec.registry import SandboxRegistry
from sigma_exec.reports.console import reports_failure
from sigma_exec.settings import NetworkPolicy, Settings
from sigma_exec.spec import build_container_spec
from sigma_exec.stats import to_container_stats
from sigma_exec.workspace_ops import apply_change_batch

log = logging.getLogger(__name__)
T = TypeVar("T")
SandboxState = Literal["running", "stopped", "gone"]
SANDBOX_USER = f"{c.SANDBOX_UID}:{c.SANDBOX_GID}"
LABEL_FRAMEWORK = "sigma.framework"


def lease_prefix(project_id: object) -> str:
    """Name prefix of pooled containers leased to a project (labels cannot change after create)."""
    return f"sigma-lease-{hashlib.sha256(str(project_id).encode()).hexdigest()[:12]}-"


def lease_name(project_id: object) -> str:
    return f"{lease_prefix(project_id)}{uuid.uuid4().hex[:12]}"


class DockerExecutor:
    """Runs an agent's code in hardened per-project containers."""

    def __init__(self, settings: Settings | None = None, *, backend: DockerBackend | None = None) -> None:
        self.settings = settings or Settings()
        self.backend: DockerBackend | None = backend
        self.unavailable_reason: str | None = None
        self._sandboxes = SandboxRegistry()
        self.pool: WarmPool | None = None
        if not self.settings.DOCKER_ENABLED:
            self.unavailable_reason = "Docker execution is disabled (DOCKER_ENABLED=false)"
        elif backend is None:
            try:
                self.backend = DockerBackend()
                self.backend.ping()
            except SigmaExecError as exc:
                self.backend = None
                self.unavailable_reason = f"{exc}; start the Docker engine or set DOCKER_HOST"
        if self.backend is not None and self.unavailable_reason is None and self.settings.POOL_SIZE > 0:
            self.pool = WarmPool(self.backend, self.settings.POOL_SIZE, self.settings.CONTAINER_TTL_SECONDS / 2)

    def close(self) -> None:
        """Stop the warm pool (removing its idle containers) and the Docker client."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    @property
    def available(self) -> bool:
        """True when a Docker engine answered."""
        return self.backend is not None and self.unavailable_reason is None

    # ---- helpers ------------------------------------------------------------------------------
    def _engine(self) -> DockerBackend:
        if self.backend is None or self.unavailable_reason:
            from sigma_exec.errors import DockerUnavailableError

            raise DockerUnavailableError(self.unavailable_reason or "docker unavailable")
        return self.backend

    def _lock(self, container_id: str) -> threading.Lock:
        return self._sandboxes.lock(container_id)

    def _labels(self, container_id: str) -> dict[str, str]:
        """Labels of a sigma-exec container; raise ContainerNotFoundError for anything else."""
        if not isinstance(container_id, str) or not container_id.strip():
            raise ContainerNotFoundError(str(container_id))
        known = self._sandboxes.get(container_id)
        if known is not None:
            return known.labels
        attrs = self._engine().inspect(container_id)
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if labels.get(c.LABEL_MANAGED) != "1":
            raise ContainerNotFoundError(container_id)
        return self._sandboxes.remember((container_id, attrs["Id"]), labels).labels

    def _profile_for(self, container_id: str, language: str | None) -> tuple[LanguageProfile, Framework]:
        labels = self._labels(container_id)
        profile = resolve_language(language or labels.get(c.LABEL_LANGUAGE) or "")
        framework = framework_by_name(profile, labels.get(LABEL_FRAMEWORK))
        if framework is None or profile.name != labels.get(c.LABEL_LANGUAGE):
            framework = select_framework(profile, self._workspace_files(container_id))
        return profile, framework

    def _workspace_files(self, container_id: str) -> set[str]:
        """Workspace paths up to two levels deep, listed inside the sandbox (for framework detection)."""
        _, out = self._engine().exec_capture(
            container_id, commands.script(commands.LIST_WORKSPACE), user=SANDBOX_USER, cap_bytes=1 << 20
        )
        return {line.removeprefix("./") for line in out.decode(errors="replace").splitlines() if line}

    # ---- lifecycle ----------------------------------------------------------------------------
    def create_project_container(
        self,
        project_id: Any,
        workspace: str | Path,
        language: str,
        *,
        pipeline_id: str | None = None,
        network: str | None = None,
        progress: Callable[[str], None] | None = None,
        gpus: int | str | list[str] | None = None,
    ) -> CreateResult:
        """Create a sandbox for a project with its workspace copied in; unpacks as (ok, id, error)."""
        started = time.monotonic()
        try:
            profile = resolve_language(language)
            root = Path(str(workspace)).expanduser()
            if not root.is_dir():
                return CreateResult(
                    success=False, error=f"workspace {str(workspace)!r} does not exist or is not a directory"
                )
            rules = self.policy_for(project_id)
            limits = effective_settings(self.settings, rules)
            policy = NetworkPolicy.NONE if rules.network.mode else (NetworkPolicy(network) if network else None)
            gpu_request = parse_gpu_request(gpus)
            if gpu_request is not None:
                self._require_gpus(gpu_request)
            payload = workspace_tar(
                root, uid=c.SANDBOX_UID, gid=c.SANDBOX_GID, max_bytes=self.settings.MAX_WORKSPACE_MB * 1024 * 1024
            )
            framework = select_framework(profile, list_workspace_files(root))
            engine = self._engine()
            image, warnings = ensure_project_image(engine, profile, self.settings, root, project_id, progress)
            image_id, digest = engine.image_id(image), content_digest(payload)
            spec = build_container_spec(
                limits,
                image=image,
                project_id=project_id,
                language=profile.name,
                env={},
                pipeline_id=pipeline_id,
                network=policy,
            )
            spec = spec.model_copy(
                update={
                    "labels": {**spec.labels, LABEL_FRAMEWORK: framework.name},
                    "device_requests": device_requests(gpu_request),
                }
            )
            if spec.network_mode == BRIDGE_NETWORK:
                ensure_bridge(engine, self.settings.node)
            if rules.network.mode == NetworkMode.ALLOWLIST:
                container_id = self._start_behind_proxy(engine, spec, payload, rules, profile)
            else:
                container_id = self._start_with_workspace(engine, spec, payload)
        except ValueError as exc:
            return CreateResult(success=False, error=f"invalid network policy {network!r}: {exc}")
        except SigmaExecError as exc:
            return CreateResult(success=False, error=str(exc))
        for warning in warnings:
            log.warning("project %s: %s", project_id, warning)
        return CreateResult(
            success=True,
            container_id=container_id,
            image=image,
            image_id=image_id,
            framework=framework.name,
            workspace_digest=digest,
            language=profile.name,
            creation_time=round(time.monotonic() - started, 3),
            warnings=[sanitize_text(w)[:1000] for w in warnings[:50]],
        )

    def _start_behind_proxy(
        self, engine: DockerBackend, spec: Any, payload: bytes, rules: ProjectPolicy, profile: LanguageProfile
    ) -> str:
        """A sandbox on an internal network whose only way out is the allow-list proxy."""
        allow = effective_allowlist(rules.network.allow, self.settings.EGRESS_ALLOWLIST)
        if not allow:
            raise InvalidRequestError(
                f"the policy allows {rules.network.allow}, but none of it is within EGRESS_ALLOWLIST "
                f"{self.settings.EGRESS_ALLOWLIST}; a policy can only narrow what the operator allows"
            )
        proxy_image = ensure_base_image(engine, resolve_language("python"), self.settings)
        egress = open_egress(engine, self.settings, sandbox=spec.model_copy(update={"image": proxy_image}), allow=allow)
        boxed = spec.model_copy(
            update={"network_mode": egress.network, "environment": {**spec.environment, **egress.environment()}}
        )
        try:
            container_id = engine.create_container(boxed)
            self._sandboxes.remember((container_id,), boxed.labels)
            engine.start(container_id)
            engine.put_archive(container_id, c.WORKSPACE_DIR, payload)
        except BaseException:
            close_egress_of(engine, {LABEL_EGRESS_FOR: boxed.name})
            engine.remove_where_named(boxed.name)
            raise
        return container_id

    def policy_for(self, project_id: object) -> ProjectPolicy:
        """The project's policy (operator-side files; defaults when there are none)."""
        return load_policy(Path(self.settings.POLICY_DIR) if self.settings.POLICY_DIR else CONFIG_DIR, project_id)

    def _policy_of(self, container_id: str) -> ProjectPolicy:
        return self.policy_for(self._labels(container_id).get(c.LABEL_PROJECT, ""))

    def _limits_of(self, container_id: str) -> Settings:
        return effective_settings(self.settings, self._policy_of(container_id))

    def _cap(self, container_id: str, requested: int | None, field: str) -> int:
        """A requested timeout, or the default; never above the project's policy."""
        limit = int(getattr(self._limits_of(container_id), field))
        return min(requested, limit) if requested and limit < int(getattr(self.settings, field)) else requested or limit

    def _require_gpus(self, request: GpuRequest) -> None:
        offered = node_gpu_count(self._engine().info(), self.settings.NODE_GPUS)
        if offered == 0:
            raise InvalidRequestError(
                f"{request.describe()} requested, but node {self.settings.node!r} has no GPU "
                "(Docker lists no nvidia runtime and NODE_GPUS is not set); route GPU proposals to GPU workers"
            )
        if offered > 0 and (request.count or len(request.device_ids)) > offered:
            raise InvalidRequestError(f"{request.describe()} requested, but node {self.settings.node!r} has {offered}")

    def _start_with_workspace(self, engine: DockerBackend, spec: Any, payload: bytes) -> str:
        container_id = self.pool.acquire(spec, lease_name(spec.labels[c.LABEL_PROJECT])) if self.pool else None
        try:
            if container_id is None:
                container_id = engine.create_container(spec)
                engine.start(container_id)
            engine.put_archive(container_id, c.WORKSPACE_DIR, payload)
        except BaseException:
            if container_id is not None:
                engine.remove(container_id)  # a partial create leaves nothing behind
            raise
        self._sandboxes.remember((container_id,), spec.labels)
        return container_id

    def sandbox_state(self, container_id: str) -> SandboxState | None:
        """`running`, `stopped` or `gone`; None when the engine does not answer.

        A step that fails because its sandbox died (engine restart, deadline) is not the code's fault,
        and a cleanup that could not reach the engine must be tried again: the pipeline asks this.
        """
        try:
            running = (self._engine().inspect(container_id).get("State") or {}).get("Running")
        except ContainerNotFoundError:
            return "gone"
        except SigmaExecError:
            return None
        return "running" if running else "stopped"

    def kill_sandbox_processes(self, container_id: str) -> bool:
        """Kill every process of the sandbox user (what a lost worker's step left running); True when done.

        Run before a step is delivered again: a leftover step's `kill -9 -1` would end the new one.
        """

        def run() -> bool:
            self._labels(container_id)
            self._engine().exec_capture(
                container_id, commands.script(commands.KILL_ALL), user=SANDBOX_USER, cap_bytes=1024
            )
            return True

        return self._guard(run, lambda _msg: False)

    def stop_container(self, container_id: str) -> bool:
        """Kill and remove one container with its volumes; True if it was removed."""
        try:
            labels = self._labels(container_id)
            engine = self._engine()
            behind_proxy = self.policy_for(labels.get(c.LABEL_PROJECT, "")).network.mode == NetworkMode.ALLOWLIST
            name = engine.inspect(container_id)["Name"].lstrip("/") if behind_proxy else None
            removed = engine.remove(container_id)
            if name:
                close_egress_of(engine, {LABEL_EGRESS_FOR: name})
        except SigmaExecError as exc:
            log.info("stop_container %s: %s", container_id, exc)
            return False
        self._forget(container_id)
        return removed

    def run_snippet(self, language: str, command: str | Sequence[str], timeout: int | None = None) -> ExecutionResult:
        """Run one command in a fresh sandbox of `language` with an empty workspace, then discard it.

        With a warm pool (POOL_SIZE > 0) the sandbox is already running and is removed in the background
        afterwards, so the call costs about one exec; without one, a sandbox is created and removed.
        """

        def run() -> ExecutionResult:
            profile = resolve_language(language)
            engine = self._engine()
            image = ensure_base_image(engine, profile, self.settings)
            spec = build_container_spec(self.settings, image=image, project_id="", language=profile.name, env={})
            container_id = self.pool.acquire(spec, None) if self.pool else None
            if container_id is None:
                container_id = engine.create_container(spec)
                engine.start(container_id)
            self._sandboxes.remember((container_id,), spec.labels)
            try:
                return self._execute(container_id, command, timeout or self.settings.EXEC_TIMEOUT, {})
            finally:
                if self.pool is not None:
                    self.pool.discard_later(container_id)
                else:
                    engine.remove(container_id)
                self._forget(container_id)

        return self._guard(run, lambda msg: ExecutionResult(success=False, error=msg))

    def release_container(self, container_id: str) -> bool:
        """Like `stop_container`, but the removal happens in the background (pool thread).

        The container is renamed out of its project at once; without a pool this is `stop_container`.
        """
        if self.pool is None:
            return self.stop_container(container_id)
        try:
            self._labels(container_id)
        except SigmaExecError:
            return False
        self.pool.discard_later(container_id)
        self._forget(container_id)
        return True

    def _forget(self, container_id: str) -> None:
        self._sandboxes.forget(container_id)

    def _remove_where(self, labels: dict[str, str], lease_prefix: str | None = None) -> CleanupResult:
        try:
            engine = self._engine()
            removed = []
            targets = [item["Id"] for item in engine.list_containers(labels)]
            if lease_prefix is not None:
                pooled = engine.container_names({c.LABEL_MANAGED: "1", c.LABEL_ROLE: ROLE_POOL})
                targets += [cid for cid, name in pooled.items() if name.startswith(lease_prefix)]
            for container_id in targets:
                if engine.remove(container_id):
                    removed.append(container_id)
                self._forget(container_id)
            images = [img["Id"] for img in engine.list_images(labels, dangling=True) if engine.remove_image(img["Id"])]
        except SigmaExecError as exc:
            return CleanupResult(success=False, error=str(exc))
        return CleanupResult(success=True, removed_containers=removed, removed_images=images)

    def cleanup_project(self, project_id: Any) -> CleanupResult:
        """Remove every container (and dangling image) of one project."""
        project = str(project_id)
        labels = {c.LABEL_MANAGED: "1", c.LABEL_PROJECT: project}
        result = self._remove_where(labels, lease_prefix=lease_prefix(project))
        if self.backend is not None and self.unavailable_reason is None:
            try:
                close_egress_of(self.backend, {c.LABEL_PROJECT: project})
            except SigmaExecError as exc:
                log.warning("egress teardown of project %s: %s", project, exc)
        return result

    def cleanup_all(self) -> CleanupResult:
        """Remove every container sigma-exec manages on this engine."""
        return self._remove_where({c.LABEL_MANAGED: "1"})

    def remove_pipeline_sandboxes(self, pipeline_id: str) -> CleanupResult:
        """Remove what a pipeline left on this node (an earlier delivery of its create step, say)."""
        node = self.settings.node
        return self._remove_where({c.LABEL_MANAGED: "1", c.LABEL_PIPELINE: pipeline_id, c.LABEL_NODE: node})

    # ---- engine upkeep (the reaper's and the queue layer's entry points) ------------------------
    def ping(self) -> None:
        """Return when the engine answers; raise DockerUnavailableError otherwise."""
        self._engine().ping()

    def sandbox_pipelines(self, node: str) -> set[str]:
        """Pipeline ids of the sandboxes `node` holds on this engine."""
        labels = {c.LABEL_MANAGED: "1", c.LABEL_NODE: node}
        found = {(x.get("Labels") or {}).get(c.LABEL_PIPELINE, "") for x in self._engine().list_containers(labels)}
        return found - {""}

    def reap(
        self,
        node: str,
        now: float,
        *,
        live_pipelines: Collection[str] = (),
        dead_pipelines: Collection[str] = (),
        all_nodes: bool = False,
    ) -> ReapReport:
        """Remove `node`'s expired and orphaned sandboxes (see `sigma_exec.reaper.reap`)."""
        engine = self._engine()
        return reap(
            engine,
            node=node,
            now=now,
            live_pipelines=live_pipelines,
            dead_pipelines=dead_pipelines,
            all_nodes=all_nodes,
        )

    def collect_images(self) -> list[str]:
        """Image GC within IMAGE_DISK_BUDGET_MB; the current base images are kept."""
        return collect_images(self._engine(), self.settings)

    # ---- running ------------------------------------------------------------------------------
    def _guard(self, fn: Callable[[], T], fail: Callable[[str], T]) -> T:
        try:
            return fn()
        except SigmaExecError as exc:
            return fail(str(exc))

    def execute_in_container(
        self,
        container_id: str,
        command: str | Sequence[str],
        timeout: int | None = None,
        *,
        env: dict[str, str] | None = None,
    ) -> ExecutionResult:
        """Run a command in /workspace as the sandbox user, bounded in time and output."""
        return self._guard(
            lambda: self._execute(container_id, command, self._cap(container_id, timeout, "EXEC_TIMEOUT"), env or {}),
            lambda msg: ExecutionResult(success=False, error=msg),
        )

    def _execute(
        self,
        container_id: str,
        command: str | Sequence[str],
        timeout: int,
        env: dict[str, str],
        *,
        keep_lines: Callable[[str], bool] | None = None,
    ) -> ExecutionResult:
        self._labels(container_id)
        if not command or not isinstance(command, str | list | tuple):
            return ExecutionResult(success=False, error=f"command {command!r} is empty or not a string/list")
        engine = self._engine()
        with self._lock(container_id):
            raw = engine.exec_bounded(
                container_id,
                commands.wrap_with_deadline(command, timeout),
                user=SANDBOX_USER,
                environment=env,
                workdir=c.WORKSPACE_DIR,
                cap_bytes=self._limits_of(container_id).OUTPUT_CAP_BYTES,
                deadline_s=timeout + self.settings.KILL_GRACE_SECONDS,
                on_deadline=commands.script(commands.KILL_ALL),
                keep_lines=keep_lines,
            )
            # An OOM kill of a child shows in the cgroup's counter even when the parent exits 1 (moby#18470):
            # read it after every failing step (a passing step pays nothing).
            oom = raw.exit_code not in (0, None) and not raw.deadline_hit and self._oom_happened(container_id)
        return execution_result(raw, timeout_s=timeout, oom_killed=oom)

    def _oom_happened(self, container_id: str) -> bool:
        _code, out = self._engine().exec_capture(
            container_id, commands.script(commands.OOM_COUNT), user=SANDBOX_USER, cap_bytes=4096
        )
        count = commands.parse_oom_count(out)
        if count is None:
            return False
        entry = self._sandboxes.get(container_id)
        if entry is None:
            return count > 0
        seen, entry.oom_seen = entry.oom_seen, count
        return count > seen

    def run_tests(
        self,
        container_id: str,
        language: str | None = None,
        test_command: str | None = None,
        *,
        timeout: int | None = None,
        rerun_failed: bool = False,
    ) -> TestResult:
        """Run the project's tests; counts and coverage come from structured reports.

        With `rerun_failed`, the failing cases are run once more (the framework's own selection):
        those that pass then are listed in `flaky`, and the second run's cases in `rerun_cases`.
        """

        def run() -> TestResult:
            limit = self._cap(container_id, timeout, "TEST_TIMEOUT")
            first = self._run_tests(container_id, language, test_command, limit)
            ids = reruns.selectable(reruns.failing_ids(first))
            left = reruns.time_left(limit, first.execution_time)  # both runs together stay within the limit
            if not rerun_failed or not ids or first.timed_out or left is None:
                return first
            again = self._run_tests(container_id, language, None, left, only=ids)
            return reruns.with_rerun(first, again)

        return self._guard(run, lambda msg: TestResult(success=False, error=msg))

    def rerun_tests(
        self, container_id: str, test_ids: Sequence[str], language: str | None = None, *, timeout: int | None = None
    ) -> TestResult:
        """Run only the cases with these ids (as `TestResult.cases` names them), with the framework's selection."""
        if isinstance(test_ids, str) or not all(isinstance(t, str) for t in test_ids):
            return TestResult(success=False, error="test_ids must be a list of test id strings")
        ids = reruns.selectable(test_ids)
        if not ids:
            return TestResult(success=False, error="no test id to run (ids must be non-empty single lines)")
        return self._guard(
            lambda: self._run_tests(
                container_id, language, None, self._cap(container_id, timeout, "TEST_TIMEOUT"), only=ids
            ),
            lambda msg: TestResult(success=False, error=msg),
        )

    def _run_tests(
        self,
        container_id: str,
        language: str | None,
        test_command: str | None,
        timeout: int,
        *,
        only: list[str] | None = None,
    ) -> TestResult:
        _profile, framework = self._profile_for(container_id, language)
        assert framework is not None
        # A fresh directory per run, unguessable, under a parent the sandbox user cannot list (spec.py). Its
        # path is no environment variable: only the framework's own flags and test_env name it, and a
        # test_command's shell finds it in $SIGMA_REPORTS_DIR, a shell variable its children do not inherit.
        reports = f"{c.REPORTS_DIR}/{uuid.uuid4().hex}"
        env = {k: v.format(reports=reports, workspace=c.WORKSPACE_DIR) for k, v in framework.test_env.items()}
        prelude = f'SIGMA_REPORTS_DIR={reports}; mkdir -p -m 0700 "$SIGMA_REPORTS_DIR"'
        if only is None:
            command = test_command or framework.test_command.format(reports=reports, workspace=c.WORKSPACE_DIR)
            script = f"{prelude} && {command}"
        elif not framework.rerun_command:
            return TestResult(success=False, error=f"{framework.name} cannot run single tests again")
        else:
            command = framework.rerun_command.format(reports=reports, workspace=c.WORKSPACE_DIR)
            env["SIGMA_RERUN_FILE"] = f"{reports}/rerun-ids.txt"
            env["SIGMA_RERUN_IDS"] = reruns.selection_file(only).decode()
            script = f'{prelude} && printf "%s" "$SIGMA_RERUN_IDS" > "$SIGMA_RERUN_FILE" && {command}'
        # What the runner prints is captured as it prints it: its failure lines are kept even if a flood
        # after them would push them out of the output cap, and the report is checked against them.
        keep = functools.partial(reports_failure, framework.name)
        execution = self._execute(container_id, script, timeout, env, keep_lines=keep)
        _, packed = self._engine().exec_capture(
            container_id,
            commands.script(commands.PACK_REPORTS, reports),
            user=SANDBOX_USER,
            cap_bytes=c.REPORT_CAP_BYTES,
        )
        files = read_regular_files(packed, max_bytes=c.REPORT_CAP_BYTES, max_entries=c.REPORT_MAX_ENTRIES)
        custom = bool(only is None and test_command)
        parsed, coverage, source = read_reports(files, framework, fallbacks=custom)
        return judge_tests(
            execution,
            parsed,
            coverage,
            framework=framework.name,
            command=command,
            source=source,
            report_required=framework.report_required and not custom,
        )

    def run_build(
        self,
        container_id: str,
        language: str | None = None,
        build_command: str | None = None,
        *,
        timeout: int | None = None,
    ) -> BuildResult:
        """Build or syntax-check the project; a broken file fails the build."""
        return self._guard(
            lambda: self._run_build(
                container_id, language, build_command, self._cap(container_id, timeout, "BUILD_TIMEOUT")
            ),
            lambda msg: BuildResult(success=False, error=msg),
        )

    def _run_build(
        self, container_id: str, language: str | None, build_command: str | None, timeout: int
    ) -> BuildResult:
        _, framework = self._profile_for(container_id, language)
        command = build_command or (framework.build_command if framework else "")
        if not command.strip():
            return BuildResult(success=True, output="nothing to build for this project", steps=[])
        execution = self._execute(container_id, command, timeout, {})
        return build_result(execution, command=command.strip(), steps=[framework.name if framework else "custom"])

    def apply_changes(self, container_id: str, changes: Sequence[Change | dict[str, Any]]) -> ChangeResult:
        """Validate a whole batch, then apply it as one tar stream (all or nothing)."""
        started = time.monotonic()

        def run() -> ChangeResult:
            self._labels(container_id)
            with self._lock(container_id):
                read_only = self._policy_of(container_id).paths.read_only
                result = apply_change_batch(
                    self._engine(), container_id, changes, self.settings, SANDBOX_USER, read_only=read_only
                )
            return result.model_copy(update={"execution_time": round(time.monotonic() - started, 3)})

        try:
            return run()
        except InvalidRequestError as exc:  # the batch itself: refused, nothing written
            return ChangeResult(success=False, error=str(exc), refused=True)
        except SigmaExecError as exc:
            return ChangeResult(success=False, error=str(exc))

    def get_container_stats(self, container_id: str) -> dict[str, Any]:
        """cpu_percent, memory_usage_mb, memory_percent, network_rx_mb, network_tx_mb (and more).

        Read from the host's cgroup files when the engine is local (microseconds), else from
        the Engine API's one-shot stats; CPU percent is the delta since the previous call,
        like `docker stats` (the first call takes two samples 100 ms apart).
        """
        try:
            self._labels(container_id)
            entry = self._sandboxes.get(container_id)
            previous = entry.last_stats if entry else None
            if previous is None:
                previous = self._stats_sample(container_id)
                time.sleep(0.1)
            current = self._stats_sample(container_id)
            if entry is not None:
                entry.last_stats = current
            return to_container_stats(previous, current).as_dict()
        except SigmaExecError as exc:
            return {"error": str(exc)}

    def _stats_sample(self, container_id: str) -> dict[str, Any]:
        engine = self._engine()
        full_id, pid = self._identity(container_id)
        sample = cgroups.read_sample(full_id, pid) if engine.is_local else None
        return sample if sample is not None else engine.stats(container_id)

    def _identity(self, container_id: str) -> tuple[str, int | None]:
        entry = self._sandboxes.get(container_id)
        if entry is not None and entry.identity is not None:
            return entry.identity
        attrs = self._engine().inspect(container_id)
        identity = (attrs["Id"], (attrs.get("State") or {}).get("Pid") or None)
        if entry is not None:
            entry.identity = identity
            self._sandboxes.remember((attrs["Id"],), entry.labels)  # the full id names the same sandbox
        return identity
