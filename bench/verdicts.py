"""The verdict section of `make bench`: a whole proposal against the floor of its own commands.

For each sample project (each language's small sample and a larger one of ~50 tests), in the same run:
- verdict: the pipeline's stages (create, baseline, apply, test with coverage, build, cleanup) with the
  defaults a new user gets (the warm pool on, sized to the node), in-process and through Celery + Redis (a
  real worker with default concurrency, started and answering before the series). The first proposal fills the
  baseline cache and is not counted, as for an agent iterating on one project (through Celery, one per worker
  process: a deployed worker is long-running); before each proposal the bench waits, like an agent thinking, until
  the project's next sandbox is prepared (that wait is reported, never counted in the verdict);
- floor: the project's native test and build commands, as a user would type them, in an already-running
  container of the same image, plus one `put_archive` of the changes (raw docker SDK): one iteration right
  before each counted proposal, so that both see the machine as it is then (a 2-core machine's speed drifts by
  half over minutes); each series (in-process, through Celery) has its own floor iterations.
Reports each stage's median, the total, and total / floor.
"""

from __future__ import annotations

import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigma_exec import DockerExecutor, Settings
from sigma_exec import constants as c
from sigma_exec.baselines import MemoryBaselineCache
from sigma_exec.pipeline import Proposal, run_pipeline
from sigma_exec.prepared import PREP_PREFIX, SPARE_PREFIX

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "samples"
RUNS = int(os.environ.get("BENCH_VERDICT_RUNS", "5"))  # counted proposals (and floor iterations) a series
PREPARE_WAIT_S = 180.0
WORKER_START_S = 60.0
WORKER_PROCESSES = os.cpu_count() or 1  # the worker's default concurrency


@dataclass(frozen=True)
class Sample:
    name: str
    language: str
    workspace: Path
    changes: Path | None
    test: str  # as a user would type it
    build: str  # '' when the project has nothing to build


PY_BUILD = "python3 -m compileall -q ."
# `python3 -m pytest` as a user types it for a project without a conftest.py at its root (plain `pytest` would
# not find the project's own modules there and time an import error).
PY_TEST = "python3 -m pytest -q"
# Debian's Maven reaches its offline repository only through its settings file; a project that pins versions
# Debian lacks fails natively (sigma-exec maps them), and then the bench reports the floor as failing.
MVN = "mvn -o -q -s /etc/maven/settings-debian.xml"
MVN_TEST, MVN_BUILD = f"{MVN} test", f"{MVN} package -DskipTests"
VERDICT_SAMPLES = (
    Sample(
        "python",
        "python",
        ROOT / "examples" / "sample_project",
        ROOT / "examples" / "sample_changes.json",
        PY_TEST,
        PY_BUILD,
    ),
    Sample("python-50", "python", SAMPLES / "py_large", SAMPLES / "py_large_changes.json", PY_TEST, PY_BUILD),
    Sample("javascript", "javascript", SAMPLES / "js_calc", SAMPLES / "js_calc_changes.json", "jest", ""),
    Sample("javascript-50", "javascript", SAMPLES / "js_large", SAMPLES / "js_large_changes.json", "jest", ""),
    Sample(
        "typescript", "javascript", SAMPLES / "ts_calc", SAMPLES / "ts_calc_changes.json", "jest", "tsc -p . --noEmit"
    ),
    Sample("go", "go", SAMPLES / "go_calc", SAMPLES / "go_calc_changes.json", "go test ./...", "go build ./..."),
    Sample("go-50", "go", SAMPLES / "go_large", SAMPLES / "go_large_changes.json", "go test ./...", "go build ./..."),
    Sample("ruby", "ruby", SAMPLES / "ruby_minitest", None, "rake test", ""),
    Sample("ruby-50", "ruby", SAMPLES / "ruby_large", SAMPLES / "ruby_large_changes.json", "rake test", ""),
    Sample("java", "java", SAMPLES / "java_maven", SAMPLES / "java_maven_changes.json", MVN_TEST, MVN_BUILD),
    Sample(
        "java-50",
        "java",
        SAMPLES / "java_maven_large",
        SAMPLES / "java_maven_large_changes.json",
        MVN_TEST,
        MVN_BUILD,
    ),
)


LINE_COMMENT = {".py": "#", ".rb": "#", ".js": "//", ".mjs": "//", ".cjs": "//", ".ts": "//", ".go": "//"}
LINE_COMMENT[".java"] = "//"


# Where the nonce goes: a comment appended at the end compiles to the same object, and Go keys a test result by the
# content of the compiled test binary, so with it the floor's `go test` replays the result of the very package the
# change edits (`ok ... (cached)`: no test runs). As `nonce + 1` first lines it shifts every line after it by an
# amount of its own, and with them the position information the compiler writes. (Elsewhere it is appended: a
# shebang or magic comment stays first.)
NONCE_AT_TOP = {".go"}


def _changes(sample: Sample, nonce: int) -> list[dict[str, Any]]:
    """The sample's changes, with a comment naming `nonce` in each source file they write: every proposal (and every
    floor iteration) brings new content, as a real one does, so no cache holds its result."""
    changes = list(json.loads(sample.changes.read_text())) if sample.changes else []
    for change in changes:
        suffix = Path(str(change.get("filepath", ""))).suffix
        comment = LINE_COMMENT.get(suffix)
        if comment and not change.get("delete") and isinstance(change.get("content"), str):
            line, content = f"{comment} proposal {nonce}\n", change["content"]
            first = suffix in NONCE_AT_TOP
            change["content"] = f"{line * (nonce + 1)}{content}" if first else f"{content.rstrip()}\n{line}"
    return changes


def _tar(changes: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for change in changes:
            if change.get("delete"):
                continue
            data = str(change["content"]).encode()
            info = tarfile.TarInfo(change["filepath"])
            info.size, info.mode, info.mtime, info.uid, info.gid = len(data), 0o644, int(time.time()), 1000, 1000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def replayed_everything(output: str) -> bool:
    """`go test`'s summary says every package's result came from its cache (`ok <package> (cached)`)."""
    summary = [line for line in output.splitlines() if line.startswith(("ok ", "ok\t", "FAIL\t"))]
    return bool(summary) and all("(cached)" in line for line in summary)


class FloorFailed(RuntimeError):
    """The native command does not work as typed on this project in the image: there is no floor to compare."""


class Floor:
    """Native commands in an already-running container of the project's image, plus one put_archive each time.

    Entering runs one uncounted iteration (it warms the container, as the user's own first run would).
    """

    def __init__(self, ex: DockerExecutor, client: Any, sample: Sample) -> None:
        self.ex, self.client, self.sample = ex, client, sample
        self.project_id = f"bench-floor-{sample.name}-{uuid.uuid4().hex[:6]}"
        self.iterations = 0
        self.container: Any = None

    def __enter__(self) -> Floor:
        created = self.ex.create_project_container(self.project_id, str(self.sample.workspace), self.sample.language)
        assert created.success, created.error
        try:
            self.container = self.client.containers.get(created.container_id)
            self.once()
        except BaseException:
            self.ex.cleanup_project(self.project_id)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.ex.cleanup_project(self.project_id)

    def once(self) -> float:
        """One iteration: new content in, the test and build commands run; seconds."""
        sample, first = self.sample, self.iterations == 0
        payload = _tar(_changes(sample, self.iterations))
        self.iterations += 1
        t0 = time.perf_counter()
        if payload:
            self.container.put_archive("/workspace", payload)
        for command in (sample.test, sample.build):
            if command:
                code, raw = self.container.exec_run(["sh", "-c", command], workdir="/workspace", user="1000")
                out = raw.decode(errors="replace")
                if code != 0 and command == sample.build:  # (a test command may fail: tests can)
                    raise FloorFailed(f"floor `{command}` exited {code} in the image: {out[-300:]}")
                if not first and command == sample.test and replayed_everything(out):
                    raise FloorFailed(f"floor `{command}` replayed every cached result: it timed no test")
        return time.perf_counter() - t0


def _floor(ex: DockerExecutor, client: Any, sample: Sample, runs: int) -> list[float]:
    """`runs` counted floor iterations on their own."""
    with Floor(ex, client, sample) as floor:
        return [floor.once() for _ in range(runs)]


def _wait_prepared(client: Any, project_id: str) -> float:
    """Seconds until the project's next sandbox is prepared (an agent's thinking time covers this)."""
    t0 = time.perf_counter()
    labels = {"label": [f"{c.LABEL_PROJECT}={project_id}"]}
    while time.perf_counter() - t0 < PREPARE_WAIT_S:
        # the low-level list: one call, no inspect of containers being removed meanwhile
        names = [n.lstrip("/") for x in client.api.containers(all=True, filters=labels) for n in x.get("Names") or []]
        if any(n.startswith(SPARE_PREFIX) for n in names) and not any(n.startswith(PREP_PREFIX) for n in names):
            break
        time.sleep(0.05)
    return time.perf_counter() - t0


def _proposal(sample: Sample, project_id: str, i: int) -> Proposal:
    return Proposal(
        proposal_id=f"bench-verdict-{sample.name}-{i}-{time.time_ns()}",
        project_id=project_id,
        workspace=str(sample.workspace),
        language=sample.language,
        changes=_changes(sample, i),
    )


def _series(
    sample: Sample,
    client: Any,
    project_id: str,
    runs: int,
    one: Callable[[int], dict[str, Any]],
    floor: Floor,
    warmup: int = 1,
) -> dict[str, Any]:
    """`runs` proposals after `warmup` uncounted ones; each waits for its prepared sandbox first, then times one
    floor iteration and the proposal back to back (both see the machine as it is then)."""
    totals: list[float] = []
    floors: list[float] = []
    waits: list[float] = []
    stages: dict[str, list[float]] = {}
    prepared = 0
    for i in range(runs + warmup):
        wait = _wait_prepared(client, project_id) if i else 0.0
        counted = i >= warmup  # the first run fills the baseline cache (through Celery: each worker process warms up)
        if counted:
            floors.append(floor.once())
        t0 = time.perf_counter()
        outcome = one(i)
        elapsed = time.perf_counter() - t0
        assert outcome["status"] in ("executed", "rejected"), (sample.name, outcome.get("error"))
        if counted:
            totals.append(elapsed)
            waits.append(wait)
            for record in outcome["stages"]:
                stages.setdefault(str(record["name"]), []).append(float(record["duration_s"]))
            prepared += any(r["name"] == "create" and "prepared" in (r.get("detail") or "") for r in outcome["stages"])
    median, floor_median = statistics.median(totals), statistics.median(floors)
    return {
        "median_s": median,
        "p95_s": max(totals),
        "floor_median_s": floor_median,
        "ratio_vs_floor": median / floor_median,
        "stages_median_s": {k: round(statistics.median(v), 3) for k, v in stages.items()},
        "prepared_runs": prepared,
        "prepare_wait_median_s": round(statistics.median(waits), 3),
        "runs": len(totals),
    }


def _inprocess(
    ex: DockerExecutor, settings: Settings, sample: Sample, client: Any, runs: int, floor: Floor
) -> dict[str, Any]:
    cache = MemoryBaselineCache()
    project_id = f"bench-verdict-{sample.name}-{uuid.uuid4().hex[:6]}"
    try:
        return _series(
            sample,
            client,
            project_id,
            runs,
            lambda i: run_pipeline(ex, _proposal(sample, project_id, i), settings, baselines=cache).model_dump(
                mode="json"
            ),
            floor,
        )
    finally:
        ex.cleanup_project(project_id)


def _wait_worker(name: str, worker: subprocess.Popen[bytes]) -> None:
    """Until the worker answers a ping (bounded): its start-up is no proposal's latency."""
    from tasks.app import app

    deadline = time.monotonic() + WORKER_START_S
    while time.monotonic() < deadline and worker.poll() is None:
        if app.control.ping(destination=[name], timeout=1.0):
            return
    raise RuntimeError(f"the bench worker {name} did not answer within {WORKER_START_S:.0f}s")


@contextmanager
def celery_worker(url: str) -> Iterator[None]:
    """A real worker with the defaults (concurrency = cores, warm pool on) on its own Redis database."""
    env = {**os.environ, "CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url, "SIGMA_NODE": "bench-node"}
    for name in ("POOL_SIZE", "POOL_PREPARED"):
        env.pop(name, None)
    argv = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--without-mingle", "--without-gossip"]
    name = f"bench-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    argv += ["-n", name, "-l", "WARNING"]
    worker = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = {k: os.environ.get(k) for k in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    os.environ.update({"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url})
    try:
        _wait_worker(name, worker)
        yield
    finally:
        worker.terminate()
        worker.wait(60)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _through_celery(ex: DockerExecutor, sample: Sample, client: Any, runs: int, floor: Floor) -> dict[str, Any]:
    from tasks import submit_proposal

    project_id = f"bench-celery-{sample.name}-{uuid.uuid4().hex[:6]}"

    def one(i: int) -> dict[str, Any]:
        p = _proposal(sample, project_id, i)
        result = submit_proposal(
            proposal_id=p.proposal_id,
            project_id=project_id,
            workspace=p.workspace,
            language=p.language,
            changes=[change.model_dump(mode="json") for change in p.changes],
        )
        return dict(result.get(timeout=600))

    try:
        # a deployed worker is long-running: one uncounted proposal per worker process (its first stages import
        # and connect), not only the one that fills the baseline cache
        return _series(sample, client, project_id, runs, one, floor, warmup=WORKER_PROCESSES)
    finally:
        ex.cleanup_project(project_id)


def bench_verdicts(settings: Settings, client: Any, redis_url: str | None = None) -> dict[str, Any]:
    """Every sample: in-process verdicts and (with Redis) verdicts through Celery, each series beside floor
    iterations of its own (a floor container from an executor without a pool: nothing is prepared for it)."""
    ex = DockerExecutor(settings)  # the defaults a new user gets: warm pool on, sized to the node
    bare = DockerExecutor(settings.model_copy(update={"POOL_SIZE": 0, "POOL_PREPARED": 0}))
    results: dict[str, Any] = {}
    try:
        for sample in VERDICT_SAMPLES:
            try:
                with Floor(bare, client, sample) as floor:
                    data = _inprocess(ex, settings, sample, client, RUNS, floor)
            except Exception as exc:  # one sample's failure is reported, the others still run
                results[f"verdict_{sample.name}"] = {"error": repr(exc)[:500]}
                continue
            commands = [x for x in (sample.test, sample.build) if x]
            results[f"verdict_{sample.name}"] = {**data, "floor_commands": commands}
    finally:
        ex.close()
    if redis_url:
        url = redis_url.rsplit("/", 1)[0] + "/13"
        with celery_worker(url):
            for sample in VERDICT_SAMPLES:
                entry = results.get(f"verdict_{sample.name}") or {}
                if "floor_median_s" not in entry:
                    continue
                try:
                    with Floor(bare, client, sample) as floor:
                        entry["celery"] = _through_celery(bare, sample, client, RUNS, floor)
                except Exception as exc:
                    entry["celery"] = {"error": repr(exc)[:500]}
    bare.close()
    return results


def verdict_table(results: dict[str, Any]) -> str:
    lines = [
        f"{'verdict':14} {'floor':>7} {'in-proc':>8} {'ratio':>6} {'celery':>8} {'ratio':>6}  "
        "stages in-process (median s)"
    ]
    for sample in VERDICT_SAMPLES:
        data = results.get(f"verdict_{sample.name}")
        if not data:
            continue
        if "error" in data:
            lines.append(f"{sample.name:14} error: {data['error'][:90]}")
            continue
        stages = " ".join(f"{k}={v:.2f}" for k, v in data["stages_median_s"].items())
        celery = data.get("celery") or {}
        through = (
            f"{celery['median_s']:7.2f}s {celery['ratio_vs_floor']:5.2f}x"
            if "median_s" in celery
            else f"{'-':>8} {'-':>6}"
        )
        lines.append(
            f"{sample.name:14} {data['floor_median_s']:6.2f}s {data['median_s']:7.2f}s "
            f"{data['ratio_vs_floor']:5.2f}x {through}  {stages}"
        )
    return "\n".join(lines)


def main() -> int:
    """`make bench-verdicts`: only this section, merged into bench/results/latest.json."""
    import docker

    settings = Settings(SIGMA_NODE="bench-node")
    if not DockerExecutor(settings.model_copy(update={"POOL_SIZE": 0})).available:
        print("no Docker engine")
        return 2
    results = bench_verdicts(settings, docker.from_env(), os.environ.get("SIGMA_TEST_REDIS_URL"))
    out = ROOT / "bench" / "results" / "latest.json"
    report = json.loads(out.read_text()) if out.exists() else {"results": {}}
    report.setdefault("results", {}).update(results)
    report["verdicts_when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write_text(json.dumps(report, indent=2))
    print(verdict_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
