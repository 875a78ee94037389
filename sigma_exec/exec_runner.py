"""Running one command in a sandbox as its user: bounded in time and output, with OOM kills detected."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from sigma_exec import commands
from sigma_exec import constants as c
from sigma_exec.models import ExecutionResult, RawExec
from sigma_exec.outcomes import execution_result
from sigma_exec.output import BoundedOutput
from sigma_exec.sandbox_unit import SandboxUnit

SIDE_SLACK_BYTES = 64  # a side channel's trailer line


class Reported(NamedTuple):
    """A test run with its reports handed back: the run, the reports packed (a tar), the build run after it."""

    execution: ExecutionResult
    packed: bytes | None
    build: ExecutionResult | None


def _build_result(built: commands.SideBuild, plan: commands.BuildPlan, oom_before: int | None) -> ExecutionResult:
    """The build a test run's exec ran after it, as its own exec would have reported it."""
    output = BoundedOutput.of_parts(built.head, built.tail, built.total_bytes)
    grew = built.oom_kills is not None and oom_before is not None and built.oom_kills > oom_before
    raw = RawExec(
        exit_code=built.exit_code,
        output=output.text(),
        output_bytes=built.total_bytes,
        truncated=output.truncated,
        elapsed_s=built.elapsed_s,
        deadline_hit=False,
    )
    return execution_result(raw, timeout_s=plan.timeout_s, oom_killed=built.exit_code != 0 and grew)


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
        return self._run(container_id, command, timeout, env, keep_lines, None).execution

    def execute_reporting(
        self,
        container_id: str,
        command: str,
        timeout: int,
        env: dict[str, str],
        reports: str,
        *,
        keep_lines: Callable[[str], bool] | None = None,
        build: commands.BuildPlan | None = None,
    ) -> Reported:
        """Like `execute`, and the `reports` directory packed (a tar, at most REPORT_CAP_BYTES) by the same exec
        once every process of the run has ended (None when it could not be); with `build`, the build run after
        the tests in the same exec when they exit 0, without `env` (None when it was not). See
        REPORTING_WRAPPER."""
        return self._run(container_id, command, timeout, env, keep_lines, reports, build)

    def _run(
        self,
        container_id: str,
        command: str | Sequence[str],
        timeout: int,
        env: dict[str, str],
        keep_lines: Callable[[str], bool] | None,
        reports: str | None,
        build: commands.BuildPlan | None = None,
    ) -> Reported:
        self._lookup.labels(container_id)
        if not command or not isinstance(command, str | list | tuple):
            error = f"command {command!r} is empty or not a string/list"
            return Reported(ExecutionResult(success=False, error=error), None, None)
        engine = self._engine()
        cap = self._lookup.limits_of(container_id).OUTPUT_CAP_BYTES
        deadline = timeout + self.settings.KILL_GRACE_SECONDS
        side_cap = 0
        if reports is None:
            argv = commands.wrap_with_deadline(command, timeout)
        else:
            argv = commands.wrap_reporting(
                command, timeout, reports, c.REPORT_CAP_BYTES, build, unset=tuple(env), build_cap_bytes=cap
            )
            side_cap = c.REPORT_CAP_BYTES + SIDE_SLACK_BYTES + (cap + SIDE_SLACK_BYTES if build else 0)
            deadline += build.timeout_s if build else 0
        with self._lock(container_id):
            raw = engine.exec_bounded(
                container_id,
                argv,
                user=c.SANDBOX_USER,
                environment=env,
                workdir=c.WORKSPACE_DIR,
                cap_bytes=cap,
                deadline_s=deadline,
                on_deadline=commands.script(commands.KILL_ALL),
                keep_lines=keep_lines,
                side_cap=side_cap,
            )
            side, built = None, None
            if reports is not None and not raw.deadline_hit and raw.exit_code is not None and raw.exit_code < 128:
                rest = raw.side
                split = commands.split_side_build(rest, cap) if build is not None else None
                if split is not None:
                    rest, built = split
                side = commands.parse_side_pack(rest, c.REPORT_CAP_BYTES)
            # An OOM kill of a child shows in the cgroup's counter even when the parent exits 1 (moby#18470):
            # read it after every failing step (a passing step pays nothing; a test run's wrapper read it).
            oom = raw.exit_code not in (0, None) and not raw.deadline_hit
            oom = oom and self._oom_happened(container_id, side.oom_kills if side is not None else None)
        result = execution_result(raw.model_copy(update={"side": b""}), timeout_s=timeout, oom_killed=oom)
        if side is None or built is None or build is None:
            return Reported(result, side.packed if side is not None else None, None)
        return Reported(result, side.packed, _build_result(built, build, side.oom_kills))

    def kill_all(self, container_id: str) -> bool:
        """Kill every process of the sandbox user; True when done."""
        self._lookup.labels(container_id)
        self._engine().exec_capture(
            container_id, commands.script(commands.KILL_ALL), user=c.SANDBOX_USER, cap_bytes=1024
        )
        return True

    def _oom_happened(self, container_id: str, count: int | None = None) -> bool:
        """Whether the sandbox's OOM kill count grew since last asked; `count` when it was read already."""
        if count is None:
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
