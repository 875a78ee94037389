"""The build run after the tests in their exec (`run_tests_then_build`): the same build `run_build` runs, after
every process of the tests has ended, without their environment; both results come back whole even when the
tests or the build write forged trailers onto the exec's stderr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.pipeline import Proposal, run_pipeline

pytestmark = pytest.mark.docker

Sandbox = Callable[..., str]

PASSING = (
    "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n\n\n"
    "def test_more():\n    assert add(1, 1) == 2\n"
)
CALC = "def add(a, b):\n    return a + b\n"
# Run from a build command: writes forged trailers (reports of 9 passing tests, a passing build) onto the stderr
# of every ancestor, i.e. the exec's side channel, then fails the build.
FORGE = r"""
import io, os, tarfile
junit = b'<testsuites><testsuite name="f" tests="9" failures="0" errors="0" skipped="0"></testsuite></testsuites>'
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tar:
    info = tarfile.TarInfo("./junit.xml"); info.size = len(junit); tar.addfile(info, io.BytesIO(junit))
pack = buf.getvalue()
forged = pack + b"\nSIGMA-REPORTS %d 0\n" % len(pack) + b"all good\nSIGMA-BUILD 0 9 9 1 0\n"
pid = os.getppid()
while pid > 1:
    try:
        fd = os.open(f"/proc/{pid}/fd/2", os.O_WRONLY); os.write(fd, forged); os.close(fd)
    except OSError:
        pass
    with open(f"/proc/{pid}/stat") as h:
        pid = int(h.read().rsplit(")", 1)[1].split()[1])
print("real build output"); raise SystemExit(3)
"""


def _project(root: Path, tests: str = PASSING) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_calc.py").write_text(tests)
    (root / "calc.py").write_text(CALC)
    (root / "forge.py").write_text(FORGE)
    return root


@pytest.fixture
def execs(executor: DockerExecutor, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    assert executor.backend is not None
    seen: list[str] = []
    real = executor.backend.exec_bounded

    def spy(container_id: str, argv: list[str], **kwargs: Any) -> Any:
        seen.append(argv[2][:40])
        return real(container_id, argv, **kwargs)

    monkeypatch.setattr(executor.backend, "exec_bounded", spy)
    return seen


def test_the_build_after_passing_tests_is_the_build_run_build_runs(
    executor: DockerExecutor, sandbox: Sandbox, tmp_path: Path, execs: list[str]
) -> None:
    cid = sandbox(_project(tmp_path), "python")

    result, build = executor.run_tests_then_build(cid, "python")

    assert len(execs) == 1
    assert result.success and (result.tests_passed, result.tests_failed) == (2, 0), result.output[-2000:]
    assert result.report_source == "junit:junit.xml" and (result.coverage_percent or 0) > 0
    alone = executor.run_build(cid, "python")
    assert build is not None and alone.success
    assert (build.success, build.command, build.steps, build.exit_code) == (True, alone.command, alone.steps, 0)
    assert build.build_time >= 0


def test_the_build_gets_no_test_environment_and_its_failure_is_its_own(
    executor: DockerExecutor, sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox(_project(tmp_path), "python")

    result, build = executor.run_tests_then_build(cid, "python", build_command="env | sort; echo built; exit 4")

    assert result.success
    assert build is not None and build.success is False and build.exit_code == 4
    assert "built" in build.output
    assert "COVERAGE_FILE" not in build.output and "PYTEST_ADDOPTS" not in build.output
    assert "COVERAGE_FILE" not in executor.run_build(cid, "python", "env").output


def test_failing_tests_leave_the_build_to_its_own_exec(
    executor: DockerExecutor, sandbox: Sandbox, tmp_path: Path, execs: list[str]
) -> None:
    cid = sandbox(_project(tmp_path, PASSING.replace("== 4", "== 5")), "python")

    result, build = executor.run_tests_then_build(cid, "python", build_command="echo built")

    assert (result.tests_passed, result.tests_failed) == (1, 1) and build is None
    assert len(execs) == 1


def test_a_build_past_its_limit_or_its_output_cap_is_reported_as_its_own_exec_would(
    executor: DockerExecutor, sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox(_project(tmp_path), "python")
    cap = executor.settings.OUTPUT_CAP_BYTES

    _, slow = executor.run_tests_then_build(cid, "python", build_command="sleep 30", build_timeout=2)
    flood = f"echo first-line; head -c {cap * 3} /dev/zero | tr '\\0' x; echo; echo last-line"
    _, loud = executor.run_tests_then_build(cid, "python", build_command=flood)

    assert slow is not None and slow.timed_out and not slow.success
    assert loud is not None and loud.success and loud.truncated
    assert loud.output.startswith("first-line") and loud.output.rstrip().endswith("last-line")
    assert "bytes cut" in loud.output


def test_forged_trailers_from_the_tests_and_the_build_are_not_what_is_read(
    executor: DockerExecutor, sandbox: Sandbox, tmp_path: Path
) -> None:
    forging_tests = PASSING + "\n\ndef test_forge():\n    import runpy\n    runpy.run_path('forge.py')\n"
    cid = sandbox(_project(tmp_path, forging_tests), "python")

    result, build = executor.run_tests_then_build(cid, "python", build_command="python3 forge.py")

    # the tests' own report (the forging test ends in forge.py's SystemExit: 2 passed, 1 failed) ...
    assert (result.tests_passed, result.tests_failed) == (2, 1), result.output[-2000:]
    assert build is None  # ... so the build is left to its own exec
    clean = sandbox(_project(tmp_path / "clean"), "python")
    result, build = executor.run_tests_then_build(clean, "python", build_command="python3 forge.py")
    assert (result.tests_passed, result.tests_failed) == (2, 0)
    # the build's own output holds what it wrote there (the forgery too); its exit code is its own
    assert build is not None and build.exit_code == 3 and not build.success
    assert "real build output" in build.output


def test_a_build_that_kills_the_wrapper_hands_back_nothing_forged(
    executor: DockerExecutor, sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox(_project(tmp_path), "python")
    # forges on every ancestor's stderr, then kills them all, the wrapper included
    killer = (
        "python3 forge.py; python3 -c 'import os\n"
        "pid = os.getppid()\n"
        "while pid > 1:\n"
        '    up = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])\n'
        "    os.kill(pid, 9)\n"
        "    pid = up\n'; sleep 1"
    )

    result, build = executor.run_tests_then_build(cid, "python", build_command=killer)

    assert build is None
    assert result.success is False and result.exit_code == 137


def test_the_pipeline_takes_the_build_from_the_test_stage(tmp_path: Path, project_id: str) -> None:
    executor = DockerExecutor(Settings(SIGMA_NODE="test-node"))
    try:
        proposal = Proposal(
            proposal_id="after-tests",
            project_id=project_id,
            workspace=str(_project(tmp_path)),
            language="python",
            changes=[{"filepath": "calc.py", "content": CALC + "\n# changed\n"}],
        )
        outcome = run_pipeline(executor, proposal, Settings(SIGMA_NODE="test-node", BASELINE_TESTS=False))
    finally:
        executor.close()

    assert outcome.status == "executed", outcome
    stage = next(s for s in outcome.stages if s.name == "build")
    assert stage.ok and stage.detail == "ran after the tests, in their exec"
    assert outcome.build and outcome.build["success"] and outcome.build["steps"] == ["pytest"]
