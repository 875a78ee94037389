"""Builds in a sandbox: the framework's build command (or a given one) through `ExecRunner`, judged."""

from __future__ import annotations

from sigma_exec.exec_runner import ExecRunner
from sigma_exec.models import BuildResult
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
        limit = self._lookup.cap(container_id, timeout, "BUILD_TIMEOUT")
        _, framework = self._lookup.profile_for(container_id, language)
        command = build_command or (framework.build_command if framework else "")
        if not command.strip():
            return BuildResult(success=True, output="nothing to build for this project", steps=[])
        execution = self._runner.execute(container_id, command, limit, {})
        return build_result(execution, command=command.strip(), steps=[framework.name if framework else "custom"])
