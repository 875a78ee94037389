"""`DockerExecutor`: the seed's library API, a facade over the sandbox units (`sandbox_create`, `exec_runner`,
`suite_runs`, `build_runs`, `change_apply`, `sandbox_lifecycle`, `sandbox_stats`, `reaper`), which raise.

Every public method returns a result model; a failed operation is `success=False`
with an error that names the bad value, never an exception.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sigma_exec.build_runs import BuildRunner
from sigma_exec.change_apply import ChangeApplier
from sigma_exec.changes import Change
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import DockerUnavailableError, InvalidRequestError, SigmaExecError
from sigma_exec.exec_runner import ExecRunner
from sigma_exec.models import BuildResult, ChangeResult, CleanupResult, CreateResult, ExecutionResult, TestResult
from sigma_exec.policy import ProjectPolicy
from sigma_exec.pool import WarmPool, lease_name, lease_prefix
from sigma_exec.prepared import PreparedSandboxes
from sigma_exec.reaper import ReapReport, collect_images, reap
from sigma_exec.registry import SandboxRegistry
from sigma_exec.sandbox_create import SandboxCreator
from sigma_exec.sandbox_lifecycle import SandboxLifecycle, SandboxState
from sigma_exec.sandbox_lookup import SandboxLookup
from sigma_exec.sandbox_stats import StatsSampler
from sigma_exec.sandbox_unit import SandboxContext
from sigma_exec.settings import Settings
from sigma_exec.suite_runs import SuiteRunner

# `lease_prefix` / `lease_name` and `SandboxState` were defined here; they stay importable from here.
__all__ = ["DockerExecutor", "SandboxState", "lease_name", "lease_prefix"]
T = TypeVar("T")


class DockerExecutor:
    """Runs an agent's code in hardened per-project containers."""

    def __init__(self, settings: Settings | None = None, *, backend: DockerBackend | None = None) -> None:
        self.settings = settings or Settings()
        self.backend: DockerBackend | None = backend
        self.unavailable_reason: str | None = None
        self._sandboxes = SandboxRegistry()
        self.pool: WarmPool | None = None
        self._close_pool: weakref.finalize[Any, Any] | None = None
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
            max_age = self.settings.CONTAINER_TTL_SECONDS / 2
            prepared = (
                PreparedSandboxes(self.backend, self.settings.POOL_PREPARED, self.settings.POOL_IDLE_SECONDS, max_age)
                if self.settings.POOL_PREPARED > 0
                else None
            )
            idle = self.settings.POOL_IDLE_SECONDS
            self.pool = WarmPool(self.backend, self.settings.POOL_SIZE, max_age, idle_s=idle, prepared=prepared)
            # A caller that never calls close() (a script that just ends) leaves no idle or prepared sandbox behind:
            # the pool is closed when the executor is collected or, at the latest, when the interpreter exits.
            self._close_pool = weakref.finalize(self, self.pool.close)
        # Units read the engine and the pool at each call: `close()` drops the pool, an unavailable engine raises.
        self._lookup = SandboxLookup(self.settings, self._engine, self._sandboxes)
        ctx = SandboxContext(self.settings, self._engine, self._sandboxes, self._lookup, lambda: self.pool, self._lock)
        self._creator = SandboxCreator(ctx)
        self._runner = ExecRunner(ctx)
        self._suites = SuiteRunner(self._engine, self._lookup, self._runner)
        self._builds = BuildRunner(self._lookup, self._runner)
        self._changes = ChangeApplier(ctx)
        self._lifecycle = SandboxLifecycle(ctx)
        self._stats = StatsSampler(ctx)

    def close(self) -> None:
        """Stop the warm pool (removing its idle containers) and the Docker client."""
        if self._close_pool is not None:
            self._close_pool()  # once, whoever asks first (close, collection or exit)
        self.pool = None

    @property
    def available(self) -> bool:
        """True when a Docker engine answered."""
        return self.backend is not None and self.unavailable_reason is None

    # ---- what the units share -----------------------------------------------------------------
    def _engine(self) -> DockerBackend:
        if self.backend is None or self.unavailable_reason:
            raise DockerUnavailableError(self.unavailable_reason or "docker unavailable")
        return self.backend

    def _lock(self, container_id: str) -> threading.Lock:
        return self._sandboxes.lock(container_id)

    def _guard(self, fn: Callable[[], T], fail: Callable[[str], T]) -> T:
        try:
            return fn()
        except SigmaExecError as exc:
            return fail(str(exc))

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
        return self._creator.create(
            project_id, workspace, language, pipeline_id=pipeline_id, network=network, progress=progress, gpus=gpus
        )

    def policy_for(self, project_id: object) -> ProjectPolicy:
        """The project's policy (operator-side files; defaults when there are none)."""
        return self._lookup.policy_for(project_id)

    def sandbox_state(self, container_id: str) -> SandboxState | None:
        """`running`, `stopped` or `gone`; None when the engine does not answer.

        A step that fails because its sandbox died (engine restart, deadline) is not the code's fault,
        and a cleanup that could not reach the engine must be tried again: the pipeline asks this.
        """
        return self._lifecycle.state(container_id)

    def kill_sandbox_processes(self, container_id: str) -> bool:
        """Kill every process of the sandbox user (what a lost worker's step left running); True when done.

        Run before a step is delivered again: a leftover step's `kill -9 -1` would end the new one.
        """
        return self._guard(lambda: self._runner.kill_all(container_id), lambda _msg: False)

    def stop_container(self, container_id: str) -> bool:
        """Kill and remove one container with its volumes; True if it was removed."""
        return self._lifecycle.stop(container_id)

    def run_snippet(self, language: str, command: str | Sequence[str], timeout: int | None = None) -> ExecutionResult:
        """Run one command in a fresh sandbox of `language` with an empty workspace, then discard it.

        With a warm pool (POOL_SIZE > 0) the sandbox is already running and is removed in the background
        afterwards, so the call costs about one exec; without one, a sandbox is created and removed.
        """

        def run() -> ExecutionResult:
            with self._creator.blank_sandbox(language) as container_id:
                return self._runner.execute(container_id, command, timeout or self.settings.EXEC_TIMEOUT, {})

        return self._guard(run, lambda msg: ExecutionResult(success=False, error=msg))

    def release_container(self, container_id: str) -> bool:
        """Like `stop_container`, but the removal happens in the background (pool thread).

        The container is renamed out of its project at once; without a pool this is `stop_container`.
        """
        return self._lifecycle.release(container_id)

    def cleanup_project(self, project_id: Any) -> CleanupResult:
        """Remove every container (and dangling image) of one project."""
        return self._lifecycle.cleanup_project(project_id)

    def cleanup_all(self) -> CleanupResult:
        """Remove every container sigma-exec manages on this engine."""
        return self._lifecycle.remove_all()

    def remove_pipeline_sandboxes(self, pipeline_id: str) -> CleanupResult:
        """Remove what a pipeline left on this node (an earlier delivery of its create step, say)."""
        return self._lifecycle.remove_pipeline(pipeline_id)

    # ---- engine upkeep (the reaper's and the queue layer's entry points) ------------------------
    def ping(self) -> None:
        """Return when the engine answers; raise DockerUnavailableError otherwise."""
        self._engine().ping()

    def sandbox_pipelines(self, node: str) -> set[str]:
        """Pipeline ids of the sandboxes `node` holds on this engine."""
        return self._lifecycle.pipelines(node)

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
        return reap(
            self._engine(),
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
            lambda: self._runner.execute(
                container_id, command, self._lookup.cap(container_id, timeout, "EXEC_TIMEOUT"), env or {}
            ),
            lambda msg: ExecutionResult(success=False, error=msg),
        )

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
        return self._guard(
            lambda: self._suites.run(container_id, language, test_command, timeout=timeout, rerun_failed=rerun_failed),
            lambda msg: TestResult(success=False, error=msg),
        )

    def run_tests_then_build(
        self,
        container_id: str,
        language: str | None = None,
        test_command: str | None = None,
        build_command: str | None = None,
        *,
        timeout: int | None = None,
        build_timeout: int | None = None,
        rerun_failed: bool = False,
    ) -> tuple[TestResult, BuildResult | None]:
        """`run_tests`, then, when the tests exit 0, the build as `run_build` would run it, in the same exec once
        every process of the tests has ended (one docker round trip less).

        The build is None when it did not run there (the tests failed, failing cases were run again after it,
        nothing to build, or the exec could not hand it back): call `run_build` then.
        """

        def both() -> tuple[TestResult, BuildResult | None]:
            plan, step = self._builds.plan(container_id, language, build_command, timeout=build_timeout)
            result, built = self._suites.run_then_build(
                container_id, language, test_command, plan, timeout=timeout, rerun_failed=rerun_failed
            )
            return result, (self._builds.judge(plan, step, built) if plan is not None and built is not None else None)

        return self._guard(both, lambda msg: (TestResult(success=False, error=msg), None))

    def rerun_tests(
        self, container_id: str, test_ids: Sequence[str], language: str | None = None, *, timeout: int | None = None
    ) -> TestResult:
        """Run only the cases with these ids (as `TestResult.cases` names them), with the framework's selection."""
        return self._guard(
            lambda: self._suites.rerun(container_id, test_ids, language, timeout=timeout),
            lambda msg: TestResult(success=False, error=msg),
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
            lambda: self._builds.run(container_id, language, build_command, timeout=timeout),
            lambda msg: BuildResult(success=False, error=msg),
        )

    def apply_changes(self, container_id: str, changes: Sequence[Change | dict[str, Any]]) -> ChangeResult:
        """Validate a whole batch, then apply it as one tar stream (all or nothing)."""
        try:
            return self._changes.apply(container_id, changes)
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
        return self._guard(lambda: self._stats.stats(container_id), lambda msg: {"error": msg})
