"""Verdicts: exit codes, reports, policy and reaping decisions (pure)."""

from __future__ import annotations

import pytest

from sigma_exec.models import ExecutionResult, ParsedReport, RawExec
from sigma_exec.outcomes import execution_result, judge_tests, read_reports
from sigma_exec.pipeline import PipelineState, Proposal, ProposalStatus, decide
from sigma_exec.reaper import select_reapable
from sigma_exec.settings import Settings
from sigma_exec.stats import to_container_stats


def _raw(code: int | None, elapsed: float = 1.0, hit: bool = False) -> RawExec:
    return RawExec(exit_code=code, output="", output_bytes=0, truncated=False, elapsed_s=elapsed, deadline_hit=hit)


@pytest.mark.parametrize(
    ("raw", "oom", "success", "timed_out", "fragment"),
    [
        (_raw(0), False, True, False, None),
        (_raw(2), False, False, False, "code 2"),
        (_raw(137, elapsed=10.2), False, False, True, "timed out"),
        (_raw(None, elapsed=13, hit=True), False, False, True, "timed out"),
        (_raw(137, elapsed=1.0), True, False, False, "out-of-memory"),
    ],
)
def test_execution_results_make_timeouts_and_oom_data(raw, oom, success, timed_out, fragment) -> None:
    result = execution_result(raw, timeout_s=10, oom_killed=oom)
    assert (result.success, result.timed_out, result.oom_killed) == (success, timed_out, oom)
    assert (result.error is None) if fragment is None else (fragment in (result.error or ""))


def _exec(code: int) -> ExecutionResult:
    return ExecutionResult(success=code == 0, exit_code=code, error=None if code == 0 else f"code {code}")


def test_a_fake_passing_report_does_not_beat_a_failing_runner() -> None:
    forged = ParsedReport(framework="junit", tests_passed=10, tests_failed=0, tests_skipped=0, tests_errored=0)
    result = judge_tests(_exec(1), forged, None, framework="pytest", command="x", source="junit")
    assert result.success is False
    assert "although its report shows no failure" in (result.error or "")


def test_a_failing_report_beats_a_zero_exit_code() -> None:
    report = ParsedReport(framework="junit", tests_passed=1, tests_failed=2, tests_skipped=0, tests_errored=0)
    assert judge_tests(_exec(0), report, 80.0, framework="pytest", command="x", source="j").success is False


def test_printed_passed_lines_count_for_nothing_without_a_report() -> None:
    files = {"output.txt": b"10 passed, 0 failed"}
    assert read_reports(files, None) == (None, None, None)


def _state(**kw) -> PipelineState:
    proposal = Proposal(proposal_id="p1", project_id=1, workspace="/w", language="python")
    return PipelineState(proposal=proposal, node="n", **kw)


GOOD_TESTS = {"success": True, "coverage_percent": 90.0, "tests_failed": 0}


@pytest.mark.parametrize(
    ("state", "settings", "status", "fragment"),
    [
        (_state(tests=GOOD_TESTS, build={"success": True}), {}, ProposalStatus.EXECUTED, None),
        (_state(tests={**GOOD_TESTS, "coverage_percent": 40.0}), {"MIN_TEST_COVERAGE": 80}, "rejected", "below"),
        (_state(tests={**GOOD_TESTS, "coverage_percent": None}), {"MIN_TEST_COVERAGE": 80}, "rejected", "unknown"),
        (_state(tests={"success": False, "tests_failed": 2}), {}, "rejected", "2 failed"),
        (_state(tests={"success": False, "timed_out": True}), {}, "rejected", "timed out"),
        (_state(tests=GOOD_TESTS, build={"success": False, "error": "boom"}), {}, "rejected", "boom"),
        (_state(tests=GOOD_TESTS, build={"success": False}), {"AUTO_BUILD": False}, "executed", None),
        (_state(status=ProposalStatus.ERROR, error="create failed: x"), {}, "error", "create failed"),
        (_state(tests=GOOD_TESTS, flagged_paths=["tests/a.py"]), {}, "rejected", "protected"),
    ],
)
def test_policy_decides_from_results_and_settings(state, settings, status, fragment) -> None:
    outcome = decide(state, Settings(**settings))
    assert outcome.status == status
    assert (outcome.error is None) if fragment is None else (fragment in (outcome.error or ""))


def _container(
    cid: str, *, state: str = "running", expires: int = 2000, created: int = 900, pipeline: str = ""
) -> dict:
    labels = {"sigma.expires-at": str(expires), "sigma.created-at": str(created), "sigma.pipeline": pipeline}
    return {"Id": cid, "State": state, "Labels": labels}


def test_reaper_selects_expired_dead_and_stopped_but_never_live_pipelines() -> None:
    containers = [
        _container("fresh"),
        _container("expired", expires=999),
        _container("stopped", state="exited"),
        _container("young-created", state="created", created=990),
        _container("live-expired", expires=999, pipeline="p-live"),
        _container("dead", pipeline="p-dead"),
        {"Id": "unlabelled", "State": "running", "Labels": {}},
    ]
    chosen = select_reapable(containers, now=1000, live_pipelines={"p-live"}, dead_pipelines={"p-dead"})
    assert sorted(chosen) == ["dead", "expired", "stopped", "unlabelled"]


def test_stats_follow_docker_stats_arithmetic() -> None:
    previous = {"cpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000, "online_cpus": 2}}
    current = {
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000}, "system_cpu_usage": 20_000, "online_cpus": 2},
        "memory_stats": {
            "usage": 300 * 1024 * 1024,
            "limit": 1024 * 1024 * 1024,
            "stats": {"total_inactive_file": 100 * 1024 * 1024},
        },
        "networks": {"eth0": {"rx_bytes": 1024 * 1024, "tx_bytes": 2 * 1024 * 1024}},
    }
    stats = to_container_stats(previous, current)
    assert stats.cpu_percent == 40.0
    assert (stats.memory_usage_mb, stats.memory_percent) == (200.0, 19.53)
    assert (stats.network_rx_mb, stats.network_tx_mb) == (1.0, 2.0)


def test_image_gc_removes_oldest_unused_images_until_the_budget_fits() -> None:
    from sigma_exec.reaper import select_images_to_remove

    images = [
        {"Id": "base", "RepoTags": ["sigma-exec/python-base:cur"], "Size": 300, "Created": 1},
        {"Id": "old-deps", "RepoTags": ["sigma-exec/python-deps:a"], "Size": 200, "Created": 2},
        {"Id": "used-deps", "RepoTags": ["sigma-exec/python-deps:b"], "Size": 200, "Created": 3},
        {"Id": "new-deps", "RepoTags": ["sigma-exec/python-deps:c"], "Size": 200, "Created": 4},
    ]
    chosen = select_images_to_remove(
        images, in_use={"used-deps"}, protected={"sigma-exec/python-base:cur"}, budget_bytes=600
    )
    assert chosen == ["old-deps", "new-deps"]
    assert select_images_to_remove(images, in_use=set(), protected=set(), budget_bytes=10_000) == []


@pytest.mark.parametrize(
    ("cpus", "memory_mb", "overrides", "expected"),
    [
        (2, 24_000, {}, 2),  # this machine: CPU-bound, 2 cores x 2 overcommit / 2 cores each
        (16, 8_000, {}, 3),  # memory-bound: 8 GB x 0.8 / 2 GB
        (2, 24_000, {"SANDBOX_CPUS": 0.5}, 8),
        (1, 1_000, {}, 1),  # never below one
    ],
)
def test_admission_follows_the_sandbox_limits(cpus, memory_mb, overrides, expected) -> None:
    from sigma_exec.admission import node_capacity

    assert node_capacity(Settings(**overrides), cpus=cpus, memory_mb=memory_mb) == expected


class _Engineless:
    """Stands in for a DockerExecutor whose sandbox is in `state` and whose removal `removes` (pure logic)."""

    def __init__(self, state: str | None, removes: bool) -> None:
        self.state, self.removes = state, removes

    def release_container(self, container_id: str) -> bool:
        return self.removes

    def sandbox_state(self, container_id: str) -> str | None:
        return self.state


@pytest.mark.parametrize(
    ("state", "removes", "retried"),
    [
        ("running", True, False),  # removed now
        ("gone", False, False),  # removed earlier: a second cleanup is harmless
        ("stopped", False, True),  # still there: the engine refused, try again
        (None, False, True),  # the engine does not answer (restarting): try again
    ],
)
def test_a_cleanup_that_could_not_remove_the_sandbox_asks_to_be_retried(state, removes, retried) -> None:
    from sigma_exec.errors import DockerUnavailableError
    from sigma_exec.pipeline import stage_cleanup

    pipeline = PipelineState(proposal=Proposal(proposal_id="p", project_id="x", workspace="/w", language="python"))
    pipeline.container_id = "c" * 64
    if retried:
        with pytest.raises(DockerUnavailableError, match="not removed"):
            stage_cleanup(_Engineless(state, removes), pipeline)  # type: ignore[arg-type]
        assert pipeline.stages == []
    else:
        assert [s.name for s in stage_cleanup(_Engineless(state, removes), pipeline).stages] == ["cleanup"]  # type: ignore[arg-type]
