"""The seed's library API, called exactly as its examples call it, on a real engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from tests.conftest import SAMPLE, labelled_containers

CHANGES = json.loads((SAMPLE.parent / "sample_changes.json").read_text())


def test_python_project_end_to_end_with_keyword_calls(executor: DockerExecutor, project_id: str) -> None:
    ok, cid, error = executor.create_project_container(project_id=project_id, workspace=str(SAMPLE), language="python")
    assert ok and cid and error is None

    before = executor.run_tests(container_id=cid, language="python", test_command=None)
    assert (before.tests_passed, before.tests_failed, before.tests_skipped, before.tests_errored) == (3, 1, 1, 0)
    assert before.success is False and before.framework == "pytest"
    assert before.coverage_percent is not None and 50 < before.coverage_percent <= 100
    assert any(case.name == "test_divide" and case.outcome == "failed" for case in before.cases)

    applied = executor.apply_changes(container_id=cid, changes=CHANGES)
    assert applied.success and applied.applied == ["calc.py", "tests/test_more.py"]

    after = executor.run_tests(container_id=cid, language="python", test_command=None)
    assert (after.tests_passed, after.tests_failed, after.tests_skipped) == (5, 0, 1)
    assert after.success is True

    build = executor.run_build(container_id=cid, language="python")
    assert build.success and build.build_time > 0

    stats = executor.get_container_stats(cid)
    assert {"cpu_percent", "memory_usage_mb", "memory_percent", "network_rx_mb", "network_tx_mb"} <= set(stats)
    assert stats["memory_usage_mb"] > 0

    assert executor.stop_container(cid) is True
    assert labelled_containers(executor, project_id) == []


def test_positional_calls_work_like_keyword_calls(executor: DockerExecutor, project_id: str) -> None:
    ok, cid, _ = executor.create_project_container(project_id, str(SAMPLE), "py")
    assert ok and cid
    r = executor.execute_in_container(cid, "python3 -c 'print(6*7)'", 30)
    assert (r.success, r.exit_code, r.output.strip(), r.timed_out, r.truncated) == (True, 0, "42", False, False)
    assert r.error is None and r.execution_time > 0
    assert executor.apply_changes(cid, [{"filepath": "new.txt", "content": "hi"}]).success
    assert executor.execute_in_container(cid, "cat new.txt").output == "hi"
    t = executor.run_tests(cid, "python", "python3 -m pytest tests/test_calc.py -k add")
    assert (t.tests_passed, t.tests_failed) == (1, 0), t.output
    assert t.success and t.report_source == "junit:junit.xml"
    assert executor.run_build(cid, "python").success


def test_a_test_command_without_any_report_falls_back_to_the_exit_code(sandbox, executor: DockerExecutor) -> None:
    cid = sandbox()
    failing = executor.run_tests(cid, "python", "python3 -c 'import sys; sys.exit(3)'")
    assert failing.success is False and failing.exit_code == 3
    assert failing.tests_passed is None and failing.tests_failed is None  # never invented
    passing = executor.run_tests(cid, "python", "true")
    assert passing.success is True and passing.tests_passed is None


def test_a_syntax_error_anywhere_fails_the_build(sandbox, executor: DockerExecutor) -> None:
    cid = sandbox()
    assert executor.apply_changes(cid, [{"filepath": "deep/er/broken.py", "content": "def f(:\n"}]).success
    build = executor.run_build(cid, "python")
    assert build.success is False
    assert "broken.py" in build.output


def test_a_package_with_a_build_config_is_built_offline(tmp_path: Path, sandbox, executor: DockerExecutor) -> None:
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("VERSION = '1'\n")
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "mypkg"\nversion = "1.0"\n'
    )
    build = executor.run_build(sandbox(tmp_path), "python")
    assert build.success, build.output
    assert "mypkg-1.0-py3-none-any.whl" in build.output


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda ex, pid: ex.create_project_container(pid, "/no/such/dir", "python"), "/no/such/dir"),
        (lambda ex, pid: ex.create_project_container(pid, str(SAMPLE), "cobol"), "'cobol'"),
        (lambda ex, pid: ex.execute_in_container("deadbeef0000", "true"), "deadbeef0000"),
        (lambda ex, pid: ex.run_tests("deadbeef0000", "python"), "deadbeef0000"),
        (lambda ex, pid: ex.run_build("deadbeef0000", "python"), "deadbeef0000"),
        (lambda ex, pid: ex.apply_changes("deadbeef0000", []), "deadbeef0000"),
    ],
)
def test_bad_input_is_an_error_result_naming_the_bad_value(executor, project_id, call, fragment) -> None:
    result = call(executor, project_id)
    success = result[0] if isinstance(result, tuple) else result.success
    error = result[2] if isinstance(result, tuple) else result.error
    assert success is False
    assert fragment in error


def test_unknown_container_for_stats_and_stop(executor: DockerExecutor) -> None:
    assert "deadbeef0000" in executor.get_container_stats("deadbeef0000")["error"]
    assert executor.stop_container("deadbeef0000") is False


def test_an_unreachable_daemon_gives_available_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    ex = DockerExecutor(Settings())
    assert ex.available is False
    assert "docker" in (ex.unavailable_reason or "").lower()
    ok, cid, error = ex.create_project_container(1, str(SAMPLE), "python")
    assert (ok, cid) == (False, None) and "docker" in error.lower()
    assert ex.execute_in_container("abc", "true").success is False


def test_cleanup_project_removes_every_container_and_volume(executor: DockerExecutor, project_id: str) -> None:
    ids = [executor.create_project_container(project_id, str(SAMPLE), "python")[1] for _ in range(2)]
    volumes = {
        m["Name"]
        for cid in ids
        for m in executor.backend.inspect(cid)["Mounts"]
        if m["Type"] == "volume"  # type: ignore[union-attr]
    }
    assert len(volumes) == 2
    result = executor.cleanup_project(project_id)
    assert result.success and sorted(result.removed_containers) == sorted(ids)
    assert labelled_containers(executor, project_id) == []
    remaining = {v.name for v in executor.backend.client.volumes.list()}  # type: ignore[union-attr]
    assert not volumes & remaining
    assert executor.cleanup_project(project_id).removed_containers == []  # twice is harmless


def test_the_host_workspace_is_never_modified(tmp_path: Path, sandbox, executor: DockerExecutor) -> None:
    (tmp_path / "a.py").write_text("A = 1\n")
    cid = sandbox(tmp_path)
    assert executor.apply_changes(
        cid, [{"filepath": "a.py", "content": "A = 2\n"}, {"filepath": "b.py", "content": ""}]
    )
    assert executor.execute_in_container(cid, "echo x > c.txt").success
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]
    assert (tmp_path / "a.py").read_text() == "A = 1\n"


def test_a_gpu_request_on_a_node_without_gpus_is_refused_clearly(executor: DockerExecutor, project_id: str) -> None:
    ok, cid, error = executor.create_project_container(project_id, str(SAMPLE), "python", gpus=1)
    assert (ok, cid) == (False, None)
    assert "1 GPU(s) requested" in error and "has no GPU" in error
    assert labelled_containers(executor, project_id) == []
