"""A project's policy holds against a real container: limits in `docker inspect`, timeouts, paths."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sigma_exec import DockerExecutor, Settings
from sigma_exec.pipeline import Proposal, run_pipeline
from tests.conftest import SAMPLE

POLICIES = Path(__file__).resolve().parent.parent / "data" / "policies"


def _executor() -> DockerExecutor:
    return DockerExecutor(Settings(SIGMA_NODE="test-node", POLICY_DIR=str(POLICIES)))


def test_strict_limits_reach_the_container_and_its_commands() -> None:
    ex = _executor()
    ok, cid, err = ex.create_project_container("strict", str(SAMPLE), "python", network="bridge")
    try:
        assert ok, err
        host = ex.backend.inspect(cid)["HostConfig"]  # type: ignore[union-attr]
        assert (host["NanoCpus"], host["Memory"], host["PidsLimit"]) == (500_000_000, 256 * 1024**2, 64)
        assert host["NetworkMode"] == "none"  # the caller asked for bridge; the policy closes it
        started = time.monotonic()
        slow = ex.execute_in_container(cid, "sleep 30", timeout=30)
        assert slow.timed_out and time.monotonic() - started < 15  # capped at the policy's 2 s
        flood = ex.execute_in_container(cid, "head -c 2000000 /dev/zero | tr '\\0' x")
        assert flood.truncated and len(flood.output) < 65536 + 200
        refused = ex.apply_changes(cid, [{"filepath": "calc.py", "content": "x = 1\n"}])
        assert refused.success is False and refused.bad_path == "calc.py" and "read-only" in (refused.error or "")
    finally:
        ex.cleanup_project("strict")


def test_protected_paths_of_a_policy_reject_a_proposal() -> None:
    ex = _executor()
    changes = json.loads((SAMPLE.parent / "sample_changes.json").read_text())
    changes = [ch for ch in changes if ch["filepath"] != "calc.py"]  # read-only here; tests/test_more.py stays
    proposal = Proposal(
        proposal_id="pol-1", project_id="strict", workspace=str(SAMPLE), language="python", changes=changes
    )
    outcome = run_pipeline(ex, proposal, ex.settings)
    assert outcome.status == "rejected"
    assert outcome.flagged_paths == ["tests/test_more.py"]
    ex.cleanup_project("strict")
