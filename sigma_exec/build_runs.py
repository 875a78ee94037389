"""Builds in a sandbox: the framework's build command (or a given one) through `ExecRunner`, judged."""

from __future__ import annotations

from sigma_exec.commands import BuildPlan
from sigma_exec.exec_runner import ExecRunner
from sigma_exec.models import BuildResult, ExecutionResult
from sigma_exec.outcomes import build_result
from sigma_exec.sandbox_lookup import SandboxLookup


class BuildRunner:
    """Runs a sandbox's build; engine failures raise, a broken build is data."""

    def __init__(self, lookup: SandboxLookup, runner: ExecRunner) -> None:
        self._lookup = lookup
        self._runner = runner

    def run(
        self, container_id: str, language: str | None, build_command: str | None, *, timeout: int | None
    ) -> BuildResult:
        """Build or syntax-check the project within the (capped) timeout; nothing to build is a success."""
        plan, step = self.plan(container_id, language, build_command, timeout=timeout)
        if plan is None:
            return BuildResult(success=True, output="nothing to build for this project", steps=[])
        return self.judge(plan, step, self._runner.execute(container_id, plan.command, plan.timeout_s, {}))

    def plan(
        self, container_id: str, language: str | None, build_command: str | None, *, timeout: int | None
    ) -> tuple[BuildPlan | None, str]:
        """The build to run (None: nothing to build) and the step it is, within the (capped) timeout."""
        limit = self._lookup.cap(container_id, timeout, "BUILD_TIMEOUT")
        _, framework = self._lookup.profile_for(container_id, language)
        command = build_command or (framework.build_command if framework else "")
        step = framework.name if framework else "custom"
        return (BuildPlan(command, limit) if command.strip() else None), step

    @staticmethod
    def judge(plan: BuildPlan, step: str, execution: ExecutionResult) -> BuildResult:
        return build_result(execution, command=plan.command.strip(), steps=[step])
