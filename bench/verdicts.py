"""The verdict section of `make bench`: a whole proposal against the floor of its own commands.

For each language's sample project, in the same run:
- verdict: the in-process pipeline's stages (create, baseline, apply, test, build, cleanup) with the
  defaults a new user gets; the baseline cache is warm after the first run (same workspace content),
  as it is for an agent iterating on one project;
- floor: the project's native test and build commands, as a user would type them, in an already-running
  container of the same image, plus one `put_archive` of the changes (raw docker SDK).
Reports each stage's median, the total, and total / floor.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigma_exec import DockerExecutor, Settings
from sigma_exec.baselines import MemoryBaselineCache
from sigma_exec.pipeline import Proposal, run_pipeline

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "samples"
RUNS = int(os.environ.get("BENCH_VERDICT_RUNS", "3"))


@dataclass(frozen=True)
class Sample:
    language: str
    workspace: Path
    changes: Path | None
    test: str  # as a user would type it
    build: str  # '' when the project has nothing to build


VERDICT_SAMPLES = (
    Sample(
        "python",
        ROOT / "examples" / "sample_project",
        ROOT / "examples" / "sample_changes.json",
        "pytest -q",
        "python3 -m compileall -q .",
    ),
    Sample("javascript", SAMPLES / "js_calc", SAMPLES / "js_calc_changes.json", "jest", ""),
    Sample("go", SAMPLES / "go_calc", SAMPLES / "go_calc_changes.json", "go test ./...", "go build ./..."),
    Sample("ruby", SAMPLES / "ruby_minitest", None, "rake test", ""),
    Sample(
        "java",
        SAMPLES / "java_maven",
        SAMPLES / "java_maven_changes.json",
        "mvn -o -q test",
        "mvn -o -q package -DskipTests",
    ),
)


def _changes(sample: Sample) -> list[dict[str, Any]]:
    return list(json.loads(sample.changes.read_text())) if sample.changes else []


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


def _floor(ex: DockerExecutor, client: Any, sample: Sample, runs: int) -> list[float]:
    """Native commands in an already-running container of the project's image, plus one put_archive."""
    created = ex.create_project_container(f"bench-floor-{sample.language}", str(sample.workspace), sample.language)
    assert created.success, created.error
    container = client.containers.get(created.container_id)
    payload = _tar(_changes(sample))
    samples = []
    try:
        for i in range(runs + 1):
            t0 = time.perf_counter()
            if payload:
                container.put_archive("/workspace", payload)
            for command in (sample.test, sample.build):
                if command:
                    container.exec_run(["sh", "-c", command], workdir="/workspace", user="1000")
            if i:  # the first run warms the container, as the user's own first run would
                samples.append(time.perf_counter() - t0)
    finally:
        ex.cleanup_project(f"bench-floor-{sample.language}")
    return samples


def _verdicts(ex: DockerExecutor, settings: Settings, sample: Sample, runs: int) -> tuple[list[float], dict]:
    cache = MemoryBaselineCache()
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for i in range(runs + 1):
        proposal = Proposal(
            proposal_id=f"bench-verdict-{sample.language}-{i}-{time.time_ns()}",
            project_id=f"bench-verdict-{sample.language}",
            workspace=str(sample.workspace),
            language=sample.language,
            changes=_changes(sample),
        )
        t0 = time.perf_counter()
        outcome = run_pipeline(ex, proposal, settings, baselines=cache)
        elapsed = time.perf_counter() - t0
        assert outcome.status in ("executed", "rejected"), (sample.language, outcome.error)
        if i:  # the first run fills the baseline cache
            totals.append(elapsed)
            for record in outcome.stages:
                stages.setdefault(str(record.name), []).append(record.duration_s)
    return totals, {name: statistics.median(values) for name, values in stages.items()}


def bench_verdicts(ex: DockerExecutor, settings: Settings, client: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for sample in VERDICT_SAMPLES:
        try:
            floor = _floor(ex, client, sample, RUNS)
            totals, stages = _verdicts(ex, settings, sample, RUNS)
        except Exception as exc:  # one language's failure is reported, the others still run
            results[f"verdict_{sample.language}"] = {"error": repr(exc)[:500]}
            continue
        verdict, native = statistics.median(totals), statistics.median(floor)
        results[f"verdict_{sample.language}"] = {
            "median_s": verdict,
            "p95_s": max(totals),
            "floor_median_s": native,
            "ratio_vs_floor": verdict / native,
            "stages_median_s": {k: round(v, 3) for k, v in stages.items()},
            "floor_commands": [c for c in (sample.test, sample.build) if c],
            "runs": len(totals),
        }
    return results


def verdict_table(results: dict[str, Any]) -> str:
    lines = [f"{'verdict (in-process)':22} {'total':>8} {'floor':>8} {'ratio':>6}  stages (median s)"]
    for sample in VERDICT_SAMPLES:
        data = results.get(f"verdict_{sample.language}")
        if not data:
            continue
        if "error" in data:
            lines.append(f"{sample.language:22} error: {data['error'][:80]}")
            continue
        stages = " ".join(f"{k}={v:.2f}" for k, v in data["stages_median_s"].items())
        lines.append(
            f"{sample.language:22} {data['median_s']:7.2f}s {data['floor_median_s']:7.2f}s "
            f"{data['ratio_vs_floor']:5.2f}x  {stages}"
        )
    return "\n".join(lines)


def main() -> int:
    """`make bench-verdicts`: only this section, merged into bench/results/latest.json."""
    import docker

    settings = Settings(SIGMA_NODE="bench-node")
    ex = DockerExecutor(settings)
    if not ex.available:
        print(f"no Docker engine: {ex.unavailable_reason}")
        return 2
    results = bench_verdicts(ex, settings, docker.from_env())
    out = ROOT / "bench" / "results" / "latest.json"
    report = json.loads(out.read_text()) if out.exists() else {"results": {}}
    report.setdefault("results", {}).update(results)
    report["verdicts_when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write_text(json.dumps(report, indent=2))
    print(verdict_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
