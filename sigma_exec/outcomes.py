"""Turning raw exec results and report files into public results (pure).

Counts come from structured reports, never from terminal text; when no report
exists, counts stay None and the verdict falls back to the exit code, except when the
runner's exit code says no test ran (pytest's 4 and 5, 2 on collection errors): then
the counts are zeros and the output only supplies the cause to name. The terminal text
can only dispute a report (`reports.crosscheck`): never make a run pass.
"""

from __future__ import annotations

from sigma_exec.languages import Framework, ReportSpec
from sigma_exec.models import BuildResult, ExecutionResult, ParsedReport, RawExec, TestResult
from sigma_exec.reports import (
    COVERAGE_KINDS,
    TEST_REPORT_KINDS,
    EarlyStop,
    diagnose_no_tests,
    merge_reports,
    parse_coverage,
    parse_test_report,
)
from sigma_exec.reports.console import read_console
from sigma_exec.reports.crosscheck import disagreement

# Where each report kind is looked for when a framework does not say (test_command overrides).
FALLBACK_REPORTS = [
    ReportSpec(kind="junit", path="junit.xml"),
    ReportSpec(kind="jest", path="jest.json"),
    ReportSpec(kind="gotest", path="gotest.json"),
    ReportSpec(kind="rspec", path="rspec.json"),
    ReportSpec(kind="minitest", path="minitest.txt"),
]
FALLBACK_COVERAGE = [
    ReportSpec(kind="coveragepy", path="coverage.json"),
    ReportSpec(kind="jest-summary", path="coverage/coverage-summary.json"),
    ReportSpec(kind="gocover", path="cover.out"),
    ReportSpec(kind="jacoco", path="jacoco.xml"),
    ReportSpec(kind="simplecov", path="coverage/.last_run.json"),
]


def execution_result(raw: RawExec, *, timeout_s: int, oom_killed: bool = False) -> ExecutionResult:
    """Public result of one command: time-outs and OOM kills are data."""
    timed_out = raw.deadline_hit or (raw.exit_code == 137 and raw.elapsed_s >= timeout_s and not oom_killed)
    error = None
    if timed_out:
        error = f"timed out after {timeout_s}s; every process of the command was killed"
    elif oom_killed:
        error = "killed by the out-of-memory killer (memory limit reached)"
    elif raw.exit_code is None:
        error = "the command's exit status is unknown (the sandbox stopped?)"
    elif raw.exit_code != 0:
        error = f"command exited with code {raw.exit_code}"
    return ExecutionResult(
        success=raw.exit_code == 0 and not timed_out,
        exit_code=raw.exit_code,
        output=raw.output,
        error=error,
        execution_time=round(raw.elapsed_s, 3),
        timed_out=timed_out,
        truncated=raw.truncated,
        oom_killed=oom_killed,
        output_bytes=raw.output_bytes,
    )


def _matching(files: dict[str, bytes], spec: ReportSpec) -> list[bytes]:
    if "*" not in spec.path:
        return [files[spec.path]] if spec.path in files else []
    import fnmatch

    return [files[name] for name in sorted(files) if fnmatch.fnmatch(name, spec.path)]


def read_reports(
    files: dict[str, bytes], framework: Framework | None, *, fallbacks: bool = True
) -> tuple[ParsedReport | None, float | None, str | None]:
    """Counts, coverage and the report source from the files a test run left.

    Without `fallbacks` (the framework's own command ran, which writes only its own reports), a test report
    of another kind left in the directory is not read: it was not the runner's.
    """
    specs = (framework.reports if framework else []) + (FALLBACK_REPORTS if fallbacks or not framework else [])
    parsed: ParsedReport | None = None
    source = None
    for spec in specs:
        blobs = _matching(files, spec) if spec.kind in TEST_REPORT_KINDS else []
        if blobs:
            name = framework.name if framework else spec.kind
            parsed = merge_reports([parse_test_report(spec.kind, b) for b in blobs], name)
            source = f"{spec.kind}:{spec.path}"
            break
    coverage = None
    for spec in (framework.coverage if framework else []) + FALLBACK_COVERAGE:
        blobs = _matching(files, spec) if spec.kind in COVERAGE_KINDS else []
        found = parse_coverage(spec.kind, blobs[0]) if blobs else None
        if found is not None:
            coverage = found.percent
            break
    return parsed, coverage, source


def _has_counts(report: ParsedReport) -> bool:
    return any(
        n is not None for n in (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)
    )


def _executed(counts: ParsedReport) -> int:
    """Tests whose body ran to a verdict; skipped and errored ones (setup, collection) did not."""
    return (counts.tests_passed or 0) + (counts.tests_failed or 0)


def _total(counts: ParsedReport) -> int:
    return _executed(counts) + (counts.tests_skipped or 0) + (counts.tests_errored or 0)


def _counts(report: ParsedReport | None, early: EarlyStop | None, framework: str | None) -> ParsedReport | None:
    """The report's counts; zeros when the runner says it stopped before any test and left no report."""
    if report is not None and _has_counts(report):
        return report
    if early is None:
        return None
    return ParsedReport(
        framework=framework or "",
        tests_passed=0,
        tests_failed=0,
        tests_skipped=0,
        tests_errored=early.collection_errors,
    )


def judge_tests(
    execution: ExecutionResult,
    report: ParsedReport | None,
    coverage: float | None,
    *,
    framework: str | None,
    command: str,
    source: str | None,
    report_required: bool = False,
) -> TestResult:
    """The verdict: the runner's exit code and its report must both say "passed", and a test must have run.

    No test ran when the runner says it stopped before its first test (pytest: exit 2 on collection
    errors, 4, 5) or the report lists none. A proposal that deletes or breaks every test is not a pass,
    and coverage measured while no test ran (imports of the test files) is no coverage: it is None.
    A report that contradicts what the runner printed or its exit code is disputed, and so is a missing
    one when the runner always writes one (`report_required`): such a run is not a pass either.
    """
    early = diagnose_no_tests(framework, execution.exit_code, execution.output)
    counts = _counts(report, early, framework)
    if early is not None and counts is not None and _executed(counts) > 0:
        early = None  # the report shows tests that ran: it outweighs the output
    failed = (counts.tests_failed or 0) + (counts.tests_errored or 0) if counts else 0
    none_ran = early is not None or (counts is not None and _total(counts) == 0)
    reported = report is not None and _has_counts(report)
    disputed = _disputed(execution, report, framework, required=report_required and not reported)
    success = not execution.timed_out and failed == 0 and execution.exit_code == 0 and not none_ran and disputed is None
    error = disputed or (None if success else _test_error(execution, report, early, failed=failed, none_ran=none_ran))
    return TestResult(
        success=success,
        framework=framework,
        command=command,
        tests_passed=counts.tests_passed if counts else None,
        tests_failed=counts.tests_failed if counts else None,
        tests_skipped=counts.tests_skipped if counts else None,
        tests_errored=counts.tests_errored if counts else None,
        coverage_percent=coverage if counts is None or _executed(counts) > 0 else None,
        cases=list(counts.cases) if counts else [],
        output=execution.output,
        error=error,
        exit_code=execution.exit_code,
        execution_time=execution.execution_time,
        timed_out=execution.timed_out,
        truncated=execution.truncated,
        report_source=source if reported else None,
        report_disputed=disputed,
    )


def _disputed(
    execution: ExecutionResult, report: ParsedReport | None, framework: str | None, *, required: bool
) -> str | None:
    """Why the report cannot be trusted: it contradicts the runner's printed summary or exit code, or it is
    missing although the runner always writes one and exited 0 (an exit hook deleted it, or the process
    was ended with code 0 before the runner could write it)."""
    found = disagreement(read_console(framework, execution.output), report, execution.exit_code)
    if found is None and required and execution.exit_code == 0 and not execution.timed_out:
        problem = "no readable report" if report is None else f"an unusable report ({report.error or 'no counts'})"
        found = f"the test report is missing (possible tampering): the runner exited with code 0 but left {problem}"
        found += ", and it always writes one"
    return found


def _test_error(
    execution: ExecutionResult, report: ParsedReport | None, early: EarlyStop | None, *, failed: int, none_ran: bool
) -> str | None:
    """Why a test run is not a pass: a time-out or kill first, then why no test ran, then failures."""
    report_error = report.error if report else None
    if none_ran and not (execution.timed_out or execution.oom_killed):
        return (early.reason if early else None) or report_error or _nothing_ran(execution, early)
    error = execution.error
    if report_error:
        error = report_error if not error else f"{error}; {report_error}"
    reported = report is not None and _has_counts(report)
    if reported and execution.exit_code not in (0, None) and failed == 0:
        error = f"runner exited with code {execution.exit_code} although its report shows no failure"
    return error


def _nothing_ran(execution: ExecutionResult, early: EarlyStop | None) -> str:
    if early is not None:
        return f"no test ran: the runner stopped before its first test (exit code {execution.exit_code})"
    if execution.exit_code in (0, None):
        return "no test ran: the test report lists no test"
    return f"no test ran: the test report lists no test and the runner exited with code {execution.exit_code}"


def build_result(execution: ExecutionResult, *, command: str, steps: list[str]) -> BuildResult:
    return BuildResult(
        success=execution.success,
        build_time=execution.execution_time,
        output=execution.output,
        error=execution.error,
        command=command,
        exit_code=execution.exit_code,
        timed_out=execution.timed_out,
        truncated=execution.truncated,
        steps=steps,
    )
