"""The verdict bench's floor times the native commands on new code, never a replay of cached results."""

from __future__ import annotations

import docker
import pytest

from bench.verdicts import VERDICT_SAMPLES, _floor, replayed_everything
from sigma_exec import DockerExecutor


def test_go_s_summary_of_a_run_that_replayed_every_result_is_told_from_one_that_ran_tests() -> None:
    replay = "ok  \texample.com/calc\t(cached)\nok  \texample.com/calc/sub\t(cached)\n"
    assert replayed_everything(replay)
    assert not replayed_everything("ok  \texample.com/calc\t0.004s\nok  \texample.com/calc/sub\t(cached)\n")
    assert not replayed_everything("FAIL\texample.com/calc\t0.004s\nok  \texample.com/calc/sub\t(cached)\n")
    assert not replayed_everything("")  # (other languages print no such summary)


@pytest.mark.parametrize("name", ["go", "go-50"])
def test_each_go_floor_iteration_runs_the_tests_of_the_package_it_edits(executor: DockerExecutor, name: str) -> None:
    # Go keys a test result by the content of the compiled test binary: with the proposal's nonce appended as a
    # comment, every iteration after the first compiled to the same binary and `go test` replayed its results
    # (`ok ... (cached)`), so the floor timed no test at all. _floor raises FloorFailed when that happens.
    sample = next(s for s in VERDICT_SAMPLES if s.name == name)
    client = docker.from_env()
    try:
        times = _floor(executor, client, sample, 2)
    finally:
        client.close()
    assert len(times) == 2 and all(t > 0 for t in times), times
