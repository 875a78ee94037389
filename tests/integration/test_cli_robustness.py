"""The CLI keeps its exit-code contract when the queue layer is down (real engine, no Redis)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_reap_with_redis_down_reaps_by_deadline_and_state_without_a_traceback() -> None:
    env = {**os.environ, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "CELERY_RESULT_BACKEND": "redis://127.0.0.1:1/0"}
    proc = subprocess.run(
        [sys.executable, "-m", "sigma_exec.cli", "reap"], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr  # 1 means "rejected" in the CLI's contract
    assert "Traceback" not in proc.stderr
    assert "pipeline leases not readable" in proc.stderr and '"removed"' in proc.stdout
