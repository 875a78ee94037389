"""`make bench`: measure sigma-exec against raw docker-SDK baselines in one run.

Prints a table and writes bench/results/latest.json. Figures are medians (and p95) of
repeated runs on this machine's engine; targets are ratios against baselines measured here.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
from docker.types import Ulimit

from bench.measure import ratio, rss_kb, summarize, timed
from bench.verdicts import bench_verdicts, verdict_table
from sigma_exec import DockerExecutor, Settings
from sigma_exec.pipeline import Proposal, run_pipeline

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample_project"
CHANGES = json.loads((ROOT / "examples" / "sample_changes.json").read_text())
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
PROJECT = "bench"


def hardened_kwargs(image: str) -> dict[str, Any]:
    """The minimal raw SDK call with the same isolation semantics as a sigma-exec sandbox."""
    return {
        "image": image,
        "user": "1000:1000",
        "cap_drop": ["ALL"],
        "cap_add": ["CHOWN", "SETUID", "SETGID"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": True,
        "network_mode": "none",
        "mem_limit": 2 * 1024**3,
        "memswap_limit": 2 * 1024**3,
        "nano_cpus": 2_000_000_000,
        "pids_limit": 512,
        "init": True,
        "tmpfs": {"/tmp": "rw,exec,nosuid,nodev,size=512m"},
        "ulimits": [Ulimit(name="nofile", soft=4096, hard=4096)],
        "labels": {"sigma.managed": "1", "sigma.project": PROJECT, "sigma.expires-at": str(int(time.time()) + 3600)},
    }


def raw_cold(client: docker.DockerClient, image: str) -> None:
    container = client.containers.create(command=["true"], **hardened_kwargs(image))
    container.start()
    container.wait()
    container.logs()
    container.remove(force=True, v=True)


def raw_start(client: docker.DockerClient, image: str) -> Any:
    container = client.containers.create(command=["sleep", "600"], **hardened_kwargs(image))
    container.start()
    return container


def bench_core(ex: DockerExecutor, pooled: DockerExecutor, client: docker.DockerClient, image: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="sigma-bench-") as tmp:  # removed afterwards: nothing left behind
        tiny = Path(tmp)
        (tiny / "main.py").write_text("print('hi')\n")
        return _bench_core(ex, pooled, client, image, tiny)


def _bench_core(
    ex: DockerExecutor, pooled: DockerExecutor, client: docker.DockerClient, image: str, tiny: Path
) -> dict:
    results: dict[str, Any] = {}
    results["raw_cold_container"] = timed(lambda: raw_cold(client, image), RUNS)

    def pooled_trivial() -> None:
        ok, cid, err = pooled.create_project_container(PROJECT, str(tiny), "python")
        assert ok, err
        assert pooled.execute_in_container(cid, "true").success
        pooled.release_container(cid)

    pooled_trivial()
    assert pooled.pool is not None
    for spec in list(pooled.pool._specs.values()):
        pooled.pool.wait_ready(spec, 60)

    def pooled_snippet() -> None:
        assert pooled.run_snippet("python", "true").success

    pooled_snippet()
    results["exec_trivial"] = _timed_excluding_refill(pooled_snippet, pooled, RUNS)
    results["exec_trivial"]["ratio_vs_raw_cold"] = ratio(results["exec_trivial"], results["raw_cold_container"])
    results["exec_trivial_with_workspace"] = _timed_excluding_refill(pooled_trivial, pooled, RUNS)
    results["exec_trivial_with_workspace"]["ratio_vs_raw_cold"] = ratio(
        results["exec_trivial_with_workspace"], results["raw_cold_container"]
    )

    _ok, cid, _ = ex.create_project_container(PROJECT, str(SAMPLE), "python")
    raw = raw_start(client, image)
    results["raw_exec_run"] = timed(lambda: raw.exec_run(["true"], user="1000:1000"), RUNS)
    results["exec_warm"] = timed(lambda: ex.execute_in_container(cid, "true"), RUNS)
    results["exec_warm"]["ratio_vs_raw_exec_run"] = ratio(results["exec_warm"], results["raw_exec_run"])
    raw.remove(force=True, v=True)

    batch = [{"filepath": f"gen/mod_{i:03d}.py", "content": f"X = {i}\n"} for i in range(500)]
    results["apply_500"] = timed(lambda: ex.apply_changes(cid, batch), max(5, RUNS // 4))
    ex.get_container_stats(cid)
    results["stats"] = timed(lambda: ex.get_container_stats(cid), RUNS, warmup=0)
    results["stats_first_call"] = timed(lambda: DockerExecutor(ex.settings).get_container_stats(cid), 5, warmup=0)
    ex.stop_container(cid)

    def cached_create() -> None:
        ok, created, err = ex.create_project_container(PROJECT, str(SAMPLE), "python")
        assert ok, err
        ex.stop_container(created)

    def raw_start_remove() -> None:
        raw_start(client, image).remove(force=True, v=True)

    results["raw_start_remove"] = timed(raw_start_remove, RUNS)
    results["create_cached"] = timed(cached_create, RUNS)
    results["create_cached"]["ratio_vs_raw_start"] = ratio(results["create_cached"], results["raw_start_remove"])
    return results


DEPS_SAMPLES = {
    "python": ROOT / "tests" / "samples" / "py_src_layout",
    "javascript": ROOT / "tests" / "samples" / "js_deps",
}


def bench_deps(ex: DockerExecutor, settings: Settings) -> dict:
    """create_with_deps: first create (fetch + offline install + commit, wheel cache empty) and cached create."""
    results: dict[str, Any] = {}
    runs_first = max(1, RUNS // 10)
    for language, sample in DEPS_SAMPLES.items():
        with tempfile.TemporaryDirectory(prefix="sigma-bench-deps-") as tmp:
            cold = DockerExecutor(settings.model_copy(update={"DEPS_CACHE_DIR": str(Path(tmp) / "wheels")}))

            def first(language: str = language, sample: Path = sample, cold: DockerExecutor = cold) -> None:
                created = cold.create_project_container(PROJECT, str(sample), language)
                assert created.success, created.error
                cold.stop_container(created.container_id or "")
                assert cold.backend is not None and created.image
                cold.backend.remove_image(created.image)
                shutil.rmtree(Path(tmp) / "wheels", ignore_errors=True)

            def cached(language: str = language, sample: Path = sample) -> None:
                created = ex.create_project_container(PROJECT, str(sample), language)
                assert created.success, created.error
                ex.stop_container(created.container_id or "")

            results[f"create_with_deps_{language}_first"] = timed(first, runs_first, warmup=0)
            results[f"create_with_deps_{language}_cached"] = timed(cached, RUNS)
    return results


def _timed_excluding_refill(fn: Any, pooled: DockerExecutor, runs: int) -> dict[str, float]:
    """Time fn with the pool full before each run: the refill is off the measured path."""
    samples = []
    for _ in range(runs):
        for spec in list(pooled.pool._specs.values()):  # type: ignore[union-attr]
            pooled.pool.wait_ready(spec, 30)  # type: ignore[union-attr]
        prepared = pooled.pool.prepared  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while prepared is not None and prepared.pending() and time.monotonic() < deadline:
            time.sleep(0.02)  # the project's next sandbox, prepared while an agent would think
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return summarize(samples)


def bench_pipelines(ex: DockerExecutor, settings: Settings) -> dict:
    results: dict[str, Any] = {}

    def one(i: int) -> None:
        proposal = Proposal(
            proposal_id=f"bench-{i}-{time.time_ns()}",
            project_id=PROJECT,
            workspace=str(SAMPLE),
            language="python",
            changes=CHANGES,
        )
        outcome = run_pipeline(ex, proposal, settings)
        assert outcome.status == "executed", outcome.error

    results["pipeline_python_inprocess"] = timed(lambda: one(0), max(3, RUNS // 5))
    for workers in (1, 2):
        count = 4
        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(count)))
        elapsed = time.perf_counter() - t0
        results[f"throughput_{workers}"] = {"pipelines": count, "seconds": elapsed, "per_minute": count / elapsed * 60}
    return results


def bench_celery(settings: Settings) -> dict:
    """Full pipeline through Celery + Redis with a real worker process; skipped without Redis."""
    url = os.environ.get("SIGMA_TEST_REDIS_URL")
    if not url:
        return {"skipped": "SIGMA_TEST_REDIS_URL not set (make bench sets it)"}
    import subprocess
    import uuid

    url = url.rsplit("/", 1)[0] + "/12"
    env = {**os.environ, "CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url, "SIGMA_NODE": "bench-node"}
    env["POOL_SIZE"] = "0"  # the queue's own cost against the in-process pipeline (also without a pool)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "-c",
            "1",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"bench-{uuid.uuid4().hex[:6]}@%h",
            "-l",
            "WARNING",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        os.environ.update({"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url})
        from tasks import submit_proposal

        def one() -> None:
            result = submit_proposal(
                proposal_id=f"bench-c-{time.time_ns()}",
                project_id=PROJECT,
                workspace=str(SAMPLE),
                language="python",
                changes=CHANGES,
            )
            outcome = result.get(timeout=300)
            assert outcome["status"] == "executed", outcome

        one()  # also waits for the worker to be up
        return {"pipeline_python_celery": timed(one, max(3, RUNS // 5), warmup=0)}
    finally:
        worker.terminate()
        worker.wait(30)


def bench_flood_rss(ex: DockerExecutor) -> dict:
    _ok, cid, _ = ex.create_project_container(PROJECT, str(SAMPLE), "python")
    base = rss_kb()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss_kb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    result = ex.execute_in_container(cid, "head -c 300000000 /dev/zero | tr '\\0' 'a'", timeout=120)
    elapsed = time.perf_counter() - t0
    done.set()
    thread.join()
    ex.stop_container(cid)
    return {
        "flood_300mb": {
            "seconds": elapsed,
            "output_cap_bytes": ex.settings.OUTPUT_CAP_BYTES,
            "rss_growth_bytes": (peak[0] - base) * 1024,
            "truncated": result.truncated,
            "output_bytes": result.output_bytes,
        }
    }


def table(results: dict[str, Any]) -> str:
    lines = [f"{'measure':34} {'median':>10} {'p95':>10} {'ratio':>8}  target"]
    targets = {
        "exec_trivial": ("ratio_vs_raw_cold", "<= 0.35x raw cold"),
        "exec_trivial_with_workspace": ("ratio_vs_raw_cold", "(project lease: + rename + put_archive)"),
        "exec_warm": ("ratio_vs_raw_exec_run", "<= 1.15x raw exec_run"),
        "create_cached": ("ratio_vs_raw_start", "<= 1.5x raw start"),
        "create_with_deps_python_cached": ("ratio_vs_raw_start", "<= 1.5x raw start"),
        "create_with_deps_javascript_cached": ("ratio_vs_raw_start", "<= 1.5x raw start"),
        "create_with_deps_python_first": (None, "fetch + offline install + commit"),
        "create_with_deps_javascript_first": (None, "fetch + offline install + commit"),
        "pipeline_python_celery": ("ratio_vs_inprocess", "<= 1.15x in-process"),
        "apply_500": (None, "<= 0.3 s"),
        "stats": (None, "<= 0.2 s"),
    }
    for name, data in results.items():
        if not isinstance(data, dict) or "median_s" not in data:
            continue
        key, target = targets.get(name, (None, ""))
        value = f"{data[key]:.2f}x" if key and key in data else ""
        lines.append(f"{name:34} {data['median_s'] * 1000:8.1f}ms {data['p95_s'] * 1000:8.1f}ms {value:>8}  {target}")
    for workers in (1, 2):
        data = results.get(f"throughput_{workers}")
        if data:
            lines.append(f"{'throughput, ' + str(workers) + ' concurrent':34} {data['per_minute']:8.1f}/min")
    flood = results.get("flood_300mb")
    if flood:
        lines.append(
            f"{'worker RSS growth, 300 MB flood':34} {flood['rss_growth_bytes'] / 1e6:8.1f}MB "
            f"(cap {flood['output_cap_bytes'] / 1e6:.1f} MB)"
        )
    return "\n".join(lines)


def main() -> int:
    settings = Settings(SIGMA_NODE="bench-node")
    ex = DockerExecutor(settings.model_copy(update={"POOL_SIZE": 0}))  # the mechanisms without a pool
    pooled = DockerExecutor(Settings(SIGMA_NODE="bench-node", POOL_SIZE=2))
    if not ex.available:
        print(f"no Docker engine: {ex.unavailable_reason}", file=sys.stderr)
        return 2
    client = docker.from_env()
    ok, cid, err = ex.create_project_container(PROJECT, str(SAMPLE), "python")
    assert ok, err
    image = ex.backend.inspect(cid)["Config"]["Image"]  # type: ignore[union-attr]
    ex.stop_container(cid)
    results: dict[str, Any] = {}
    try:
        results.update(bench_core(ex, pooled, client, image))
        results.update(bench_pipelines(ex, settings))
        results.update(bench_celery(settings))
        if "pipeline_python_celery" in results:
            results["pipeline_python_celery"]["ratio_vs_inprocess"] = ratio(
                results["pipeline_python_celery"], results["pipeline_python_inprocess"]
            )
        results.update(bench_flood_rss(ex))
        results.update(bench_deps(ex, settings))
        results.update(bench_verdicts(settings, client, os.environ.get("SIGMA_TEST_REDIS_URL")))
        for language in DEPS_SAMPLES:
            results[f"create_with_deps_{language}_cached"]["ratio_vs_raw_start"] = ratio(
                results[f"create_with_deps_{language}_cached"], results["raw_start_remove"]
            )
    finally:
        pooled.close()
        ex.cleanup_project(PROJECT)
    report = {
        "when": datetime.now(UTC).isoformat(),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "engine": client.version()["Version"],
        },
        "runs": RUNS,
        "results": results,
    }
    out = ROOT / "bench" / "results" / "latest.json"
    out.write_text(json.dumps(report, indent=2))
    print(table(results))
    print()
    print(verdict_table(results))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
