"""Helpers of the fault-injection tests: a restartable redis-server of our own, batches, the AOF ledger.

The Redis here persists with an append-only file (fsync always) so that a restart loses nothing,
as a production broker would be configured; the AOF doubles as an audit log of every write, which
is how a test proves that each outcome was recorded exactly once. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PIPELINE_TESTS = Path(__file__).resolve().parents[1] / "pipeline"
if str(PIPELINE_TESTS) not in sys.path:  # reuse the pipeline tests' process helpers
    sys.path.insert(0, str(PIPELINE_TESTS))

from pipeline_helpers import REPO, SAMPLE_PROJECT, SMALL_TIME_LIMITS, free_port, pings, wait_until  # noqa: E402

TERMINAL = frozenset({"executed", "rejected", "error"})
OUTCOME_SET = re.compile(rb"\r\nSET\r\n\$\d+\r\nsigma:outcome:([^\r]+)\r\n", re.IGNORECASE)
# Small limits (shared with tests/pipeline) so an abandoned message returns in seconds.
FAST_LIMITS = {
    **SMALL_TIME_LIMITS,
    "AUTO_BUILD": "false",
    "CELERY_MAX_RETRIES": "8",
    # The lost-pipeline sweep (tasks.lost) every 5 s: a message lost in a Redis restart is re-run quickly.
    "NODE_HEARTBEAT_SECONDS": "5",
    "LOST_PIPELINE_GRACE_SECONDS": "20",
    "LOST_PIPELINE_CONFIRM_SECONDS": "10",
}


@dataclass
class RedisServer:
    """A redis-server on a free loopback port that this test owns (and may kill and restart)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        argv = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
            "--auto-aof-rewrite-percentage", "0", "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: pings(client), 20, what="our redis-server to answer")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self, down_s: float = 2.0) -> None:
        self.kill()
        time.sleep(down_s)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def outcome_writes(self) -> Counter[str]:
        """How often each proposal's outcome key was written, from the append-only file(s)."""
        counts: Counter[str] = Counter()
        for path in sorted((self.workdir / "appendonlydir").glob("*.aof")):
            counts.update(m.decode() for m in OUTCOME_SET.findall(path.read_bytes()))
        return counts


@dataclass(frozen=True)
class Submitted:
    proposal_id: str
    project_id: str
    pipeline_id: str
    expect: str


SUBMITTER = """
import json, sys
from tasks import submit_proposal
out = []
for item in json.loads(sys.stdin.read()):
    result = submit_proposal(workspace=item.pop("workspace"), language="python", changes=[], **item)
    out.append(result.id)
print(json.dumps(out))
"""


def submit_batch(
    redis_url: str, count: int, run: str, env: dict[str, str], test_command: str | None = None
) -> list[Submitted]:
    """Submit `count` fast proposals from a separate process (this process's Celery app stays untouched).

    Every third proposal's test command fails, so both verdicts appear (unless `test_command` is given).
    """
    items = []
    for i in range(count):
        failing = i % 3 == 2
        items.append(
            {
                "proposal_id": f"fault-{run}-{i:03d}",
                "project_id": f"flt-{run}-{i:03d}",
                "workspace": str(SAMPLE_PROJECT),
                "test_command": test_command or ("echo fault-soak; exit 3" if failing else "echo fault-soak"),
            }
        )
    done = subprocess.run(
        [sys.executable, "-c", SUBMITTER],
        input=json.dumps(items).encode(),
        capture_output=True,
        cwd=REPO,
        env={**env, "CELERY_BROKER_URL": redis_url, "CELERY_RESULT_BACKEND": redis_url, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=True,
    )
    ids = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return [
        Submitted(
            it["proposal_id"], it["project_id"], pid, "rejected" if i % 3 == 2 and not test_command else "executed"
        )
        for i, (it, pid) in enumerate(zip(items, ids, strict=True))
    ]


def outcomes(redis_url: str, batch: list[Submitted]) -> dict[str, dict[str, Any]]:
    """The recorded outcome of every proposal of the batch that has one (a Redis blip reads as none)."""
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        raw = client.mget([f"sigma:outcome:{s.proposal_id}" for s in batch])
    except redis.RedisError:
        return {}
    return {s.proposal_id: json.loads(r) for s, r in zip(batch, raw, strict=True) if r}


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]
