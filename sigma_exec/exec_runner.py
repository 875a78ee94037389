"""Running one command in a sandbox as its user: bounded in time and output, with OOM kills detected."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sigma_exec import commands
from sigma_exec import constants as c
from sigma_exec.models import ExecutionResult
from sigma_exec.outcomes import execution_result
from sigma_exec.sandbox_unit import SandboxUnit

SIDE_SLACK_BYTES = 64  # the side channel's trailer line after the pack


class ExecRunner(SandboxUnit):
    """Executes commands in sigma-exec sandboxes, one at a time per sandbox; engine failures raise."""

    def execute(
        self,
        container_id: str,
        command: str | Sequence[str],
        timeout: int,
        env: dict[str, str],
        *,
        keep_lines: Callable[[str], bool] | None = None,
    ) -> ExecutionResult:
        """Run `command` in /workspace within `timeout` seconds; `keep_lines` picks lines kept past the cap."""
        return self._run(container_id, command, timeout, env, keep_lines, None)[0]

    def execute_reporting(
        self,
        container_id: str,
        command: str,
        timeout: int,
        env: dict[str, str],
        reports: str,
        *,
        keep_lines: Callable[[str], bool] | None = None,
    ) -> tuple[ExecutionResult, bytes | None]:
        """Like `execute`, and the `reports` directory packed (a tar, at most REPORT_CAP_BYTES) by the same exec
        once every process of the run has ended; None when it could not be (see REPORTING_WRAPPER)."""
        return self._run(container_id, command, timeout, env, keep_lines, reports)

    def _run(
        self,
        container_id: str,
        command: str | Sequence[str],
        timeout: int,
        env: dict[str, str],
        keep_lines: Callable[[str], bool] | None,
        reports: str | None,
    ) -> tuple[ExecutionResult, bytes | None]:
        self._lookup.labels(container_id)
        if not command or not isinstance(command, str | list | tuple):
            return ExecutionResult(success=False, error=f"command {command!r} is empty or not a string/list"), None
        engine = self._engine()
        if reports is None:
            argv = commands.wrap_with_deadline(command, timeout)
        else:
            argv = commands.wrap_reporting(command, timeout, reports, c.REPORT_CAP_BYTES)
        with self._lock(container_id):
            raw = engine.exec_bounded(
                container_id,
                argv,
                user=c.SANDBOX_USER,
                environment=env,
                workdir=c.WORKSPACE_DIR,
                cap_bytes=self._lookup.limits_of(container_id).OUTPUT_CAP_BYTES,
                deadline_s=timeout + self.settings.KILL_GRACE_SECONDS,
                on_deadline=commands.script(commands.KILL_ALL),
                keep_lines=keep_lines,
                side_cap=c.REPORT_CAP_BYTES + SIDE_SLACK_BYTES if reports is not None else 0,
            )
            # An OOM kill of a child shows in the cgroup's counter even when the parent exits 1 (moby#18470):
            # read it after every failing step (a passing step pays nothing).
            oom = raw.exit_code not in (0, None) and not raw.deadline_hit and self._oom_happened(container_id)
        packed = None
        if reports is not None and not raw.deadline_hit and raw.exit_code is not None and raw.exit_code < 128:
            packed = commands.parse_side_pack(raw.side, c.REPORT_CAP_BYTES)
        return execution_result(raw.model_copy(update={"side": b""}), timeout_s=timeout, oom_killed=oom), packed

    def kill_all(self, container_id: str) -> bool:
        """Kill every process of the sandbox user; True when done."""
        self._lookup.labels(container_id)
        self._engine().exec_capture(
            container_id, commands.script(commands.KILL_ALL), user=c.SANDBOX_USER, cap_bytes=1024
        )
        return True

    def _oom_happened(self, container_id: str) -> bool:
        _code, out = self._engine().exec_capture(
            container_id, commands.script(commands.OOM_COUNT), user=c.SANDBOX_USER, cap_bytes=4096
        )
        count = commands.parse_oom_count(out)
        if count is None:
            return False
        entry = self._registry.get(container_id)
        if entry is None:
            return count > 0
        seen, entry.oom_seen = entry.oom_seen, count
        return count > seen
