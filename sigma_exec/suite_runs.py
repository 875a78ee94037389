"""Test runs in a sandbox: run the framework (or a given command, or a selection of cases), read its reports back,
cross-check them with what the runner printed, and judge; optionally run the failing cases once more.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence

from sigma_exec import commands, reruns
from sigma_exec import constants as c
from sigma_exec.archive import read_regular_files
from sigma_exec.commands import BuildPlan
from sigma_exec.exec_runner import ExecRunner
from sigma_exec.languages import Framework
from sigma_exec.models import ExecutionResult, TestResult
from sigma_exec.outcomes import judge_tests, read_reports
from sigma_exec.reports.console import reports_failure
from sigma_exec.sandbox_lookup import EngineAccessor, SandboxLookup


def suite_script(
    framework: Framework, reports: str, test_command: str | None, only: list[str] | None
) -> tuple[str, str, dict[str, str]] | None:
    """(command, shell script, environment) of one run writing its reports to `reports` (pure).

    `only` selects cases by id (the framework's re-run command); None when the framework cannot re-run cases.
    """
    env = {k: v.format(reports=reports, workspace=c.WORKSPACE_DIR) for k, v in framework.test_env.items()}
    prelude = f'SIGMA_REPORTS_DIR={reports}; mkdir -p -m 0700 "$SIGMA_REPORTS_DIR"'
    if only is None:
        command = test_command or framework.test_command.format(reports=reports, workspace=c.WORKSPACE_DIR)
        return command, f"{prelude} && {command}", env
    if not framework.rerun_command:
        return None
    command = framework.rerun_command.format(reports=reports, workspace=c.WORKSPACE_DIR)
    env["SIGMA_RERUN_FILE"] = f"{reports}/rerun-ids.txt"
    env["SIGMA_RERUN_IDS"] = reruns.selection_file(only).decode()
    return command, f'{prelude} && printf "%s" "$SIGMA_RERUN_IDS" > "$SIGMA_RERUN_FILE" && {command}', env


class SuiteRunner:
    """Runs a sandbox's tests through `ExecRunner`; engine failures raise, test outcomes are data."""

    def __init__(self, engine: EngineAccessor, lookup: SandboxLookup, runner: ExecRunner) -> None:
        self._engine = engine
        self._lookup = lookup
        self._runner = runner

    def run(
        self,
        container_id: str,
        language: str | None,
        test_command: str | None,
        *,
        timeout: int | None,
        rerun_failed: bool,
    ) -> TestResult:
        """One run within the (capped) timeout; with `rerun_failed`, its failing cases once more in what is left."""
        return self.run_then_build(
            container_id, language, test_command, None, timeout=timeout, rerun_failed=rerun_failed
        )[0]

    def run_then_build(
        self,
        container_id: str,
        language: str | None,
        test_command: str | None,
        build: BuildPlan | None,
        *,
        timeout: int | None,
        rerun_failed: bool,
    ) -> tuple[TestResult, ExecutionResult | None]:
        """`run`, and with `build` the build run after the tests in their exec when they exit 0; None when it
        did not run there, or when failing cases were run again after it (the build would then come before)."""
        limit = self._lookup.cap(container_id, timeout, "TEST_TIMEOUT")
        first, built = self._run_once(container_id, language, test_command, limit, build=build)
        ids = reruns.selectable(reruns.failing_ids(first))
        left = reruns.time_left(limit, first.execution_time)  # both runs together stay within the limit
        if not rerun_failed or not ids or first.timed_out or left is None:
            return first, built
        again, _ = self._run_once(container_id, language, None, left, only=ids)
        return reruns.with_rerun(first, again), None

    def rerun(
        self, container_id: str, test_ids: Sequence[str], language: str | None, *, timeout: int | None
    ) -> TestResult:
        """Only the cases with these ids (as `TestResult.cases` names them), with the framework's selection."""
        if isinstance(test_ids, str) or not all(isinstance(t, str) for t in test_ids):
            return TestResult(success=False, error="test_ids must be a list of test id strings")
        ids = reruns.selectable(test_ids)
        if not ids:
            return TestResult(success=False, error="no test id to run (ids must be non-empty single lines)")
        return self._run_once(
            container_id, language, None, self._lookup.cap(container_id, timeout, "TEST_TIMEOUT"), only=ids
        )[0]

    def _run_once(
        self,
        container_id: str,
        language: str | None,
        test_command: str | None,
        timeout: int,
        *,
        only: list[str] | None = None,
        build: BuildPlan | None = None,
    ) -> tuple[TestResult, ExecutionResult | None]:
        _profile, framework = self._lookup.profile_for(container_id, language)
        assert framework is not None
        # A fresh directory per run, unguessable, under a parent the sandbox user cannot list (spec.py). Its
        # path is no environment variable: only the framework's own flags and test_env name it, and a
        # test_command's shell finds it in $SIGMA_REPORTS_DIR, a shell variable its children do not inherit.
        reports = f"{c.REPORTS_DIR}/{uuid.uuid4().hex}"
        planned = suite_script(framework, reports, test_command, only)
        if planned is None:
            return TestResult(success=False, error=f"{framework.name} cannot run single tests again"), None
        command, script, env = planned
        # What the runner prints is captured as it prints it: its failure lines are kept even if a flood
        # after them would push them out of the output cap, and the report is checked against them.
        keep = functools.partial(reports_failure, framework.name)
        execution, packed, built = self._runner.execute_reporting(
            container_id, script, timeout, env, reports, keep_lines=keep, build=build
        )
        if packed is None:  # the run could not hand them back (killed, timed out): packed on their own
            _, packed = self._engine().exec_capture(
                container_id,
                commands.script(commands.PACK_REPORTS, reports),
                user=c.SANDBOX_USER,
                cap_bytes=c.REPORT_CAP_BYTES,
            )
        files = read_regular_files(packed, max_bytes=c.REPORT_CAP_BYTES, max_entries=c.REPORT_MAX_ENTRIES)
        custom = bool(only is None and test_command)
        parsed, coverage, source = read_reports(files, framework, fallbacks=custom)
        judged = judge_tests(
            execution,
            parsed,
            coverage,
            framework=framework.name,
            command=command,
            source=source,
            report_required=framework.report_required and not custom,
        )
        return judged, built
