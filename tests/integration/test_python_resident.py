"""A prepared Python sandbox keeps an interpreter with pytest and coverage.py loaded (the framework's
resident_command); its first test run hands itself over to it when that is the same as running itself. On the real
engine: the handed-over run reports exactly what a run of its own reports, it is the resident's one run, a deadline
ends it with the resident, and a run the resident must refuse runs itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.models import TestResult
from tests.integration.verdict_helpers import write_files

NODE = "test-node"
CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef unused():\n    return 0\n"
# Where the run ran: the command line of the test process's parent (the resident, or the shell of the exec).
TESTS = """import os

from calc import add, sub


def test_add():
    assert add(2, 3) == 5


def test_where():
    with open("/tmp/sigma-where", "wb") as out:
        out.write(open(f"/proc/{os.getppid()}/cmdline", "rb").read().replace(b"\\0", b" "))


def test_sub_fails():
    assert sub(3, 2) == 2


def test_slow():
    if os.path.exists("slow"):
        import time
        time.sleep(120)
"""


@pytest.fixture
def prepared() -> Iterator[DockerExecutor]:
    ex = DockerExecutor(Settings(SIGMA_NODE=NODE, POOL_SIZE=1, POOL_PREPARED=1))
    assert ex.available and ex.pool is not None and ex.pool.prepared is not None
    yield ex
    ex.close()


def _workspace(tmp_path: Path, *, slow: bool = False) -> Path:
    files = {"calc.py": CALC, "tests/test_calc.py": TESTS, **({"slow": ""} if slow else {})}
    return write_files(tmp_path / "ws", files)


def _prepared_sandbox(ex: DockerExecutor, project_id: str, workspace: Path) -> str:
    """A sandbox prepared for `workspace` (its predecessor created and released), with the resident listening."""
    first = ex.create_project_container(project_id, str(workspace), "python", pipeline_id="pipe-1")
    assert first.success, first.error
    assert ex.stop_container(first.container_id or "")
    assert ex.pool is not None and ex.pool.prepared is not None
    deadline = time.monotonic() + 120
    while ex.pool.prepared.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = ex.create_project_container(project_id, str(workspace), "python", pipeline_id="pipe-2")
    assert second.success and second.prepared, second.error
    resident = _sandbox_user_processes(second.container_id or "")
    assert len(resident) == 1 and resident[0].endswith("pytest-coverage.py --resident"), resident
    return second.container_id or ""


def _where(ex: DockerExecutor, container_id: str) -> str:
    return ex.execute_in_container(container_id, "cat /tmp/sigma-where; rm -f /tmp/sigma-where").output


def _sandbox_user_processes(container_id: str) -> list[str]:
    """Processes of the sandbox user, as the engine lists them (no exec of ours among them)."""
    top = docker.from_env().containers.get(container_id).top(ps_args="-eo uid,pid,args")
    return [" ".join(p) for p in top.get("Processes") or [] if p and p[0] == "1000"]


def _shape(result: TestResult) -> tuple[object, ...]:
    cases = sorted((case.id, case.outcome) for case in result.cases)
    return result.tests_passed, result.tests_failed, result.tests_skipped, result.coverage_percent, cases


def test_the_first_run_is_handed_over_and_reports_what_a_run_of_its_own_reports(
    prepared: DockerExecutor, project_id: str, tmp_path: Path
) -> None:
    workspace = _workspace(tmp_path)
    container_id = _prepared_sandbox(prepared, project_id, workspace)
    handed = prepared.run_tests(container_id, "python")
    assert "--resident" in _where(prepared, container_id)
    assert (handed.tests_passed, handed.tests_failed, handed.exit_code) == (3, 1, 1)
    assert handed.coverage_percent is not None

    # one run only: the resident is gone, and the next run runs itself with the same report
    assert _sandbox_user_processes(container_id) == []
    itself = prepared.run_tests(container_id, "python")
    assert "--resident" not in _where(prepared, container_id)
    assert _shape(itself) == _shape(handed)
    assert itself.exit_code == handed.exit_code


def test_a_handed_over_run_past_its_deadline_ends_with_the_resident(
    prepared: DockerExecutor, project_id: str, tmp_path: Path
) -> None:
    container_id = _prepared_sandbox(prepared, project_id, _workspace(tmp_path, slow=True))
    started = time.monotonic()
    result = prepared.run_tests(container_id, "python", timeout=5)
    assert result.timed_out and not result.success
    assert time.monotonic() - started < 60
    assert _sandbox_user_processes(container_id) == []


def test_a_run_the_resident_must_refuse_runs_itself(prepared: DockerExecutor, project_id: str, tmp_path: Path) -> None:
    container_id = _prepared_sandbox(prepared, project_id, _workspace(tmp_path))
    # a start-up setting of its own (hash seed): not what the resident started with; and a request of ~300 kB
    # (three variables of 100 kB: more than one write of the socket) arrives whole to be refused
    big = 'x=$(head -c 100000 /dev/zero | tr "\\0" x); export BIG_A=$x BIG_B=$x BIG_C=$x; '
    command = big + "PYTHONHASHSEED=7 python3 /usr/share/sigma-exec/pytest-coverage.py $SIGMA_REPORTS_DIR/coverage.json"
    result = prepared.run_tests(container_id, "python", test_command=command)
    assert "--resident" not in _where(prepared, container_id)
    assert (result.tests_passed, result.tests_failed) == (3, 1) and result.coverage_percent is not None
    assert _sandbox_user_processes(container_id) == []
