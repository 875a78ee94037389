"""Flower shows proposals as a user reads them: `celery -A tasks flower`, its API and its pages in Chromium.

Three proposals go through one real worker: one executed, one rejected (a test fails), one error (its
workspace does not exist). Flower's API and its pages, rendered by headless Chromium (Debian's
`chromium`, installed by `make test`), must name each proposal with its verdict; screenshots of the
pages are written under the test's artifact folder (`SIGMA_TEST_ARTIFACTS`, else pytest's tmp dir).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import REPO, SAMPLE_PROJECT, Cluster, free_port, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.docker, pytest.mark.redis]
STAGE_TASKS = ["sigma.create", "sigma.baseline", "sigma.apply", "sigma.test", "sigma.build", "sigma.cleanup"]
BROWSER_S = 60


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def reachable(url: str) -> bool:
    try:
        get_json(url)
        return True
    except OSError:
        return False


@dataclass
class Flower:
    base: str
    results: dict[str, Any]  # verdict -> AsyncResult
    proposals: dict[str, str]  # verdict -> proposal id
    worker: str
    worker_log: Any  # () -> str
    cluster: Cluster
    metrics_port: int

    def tasks(self) -> dict[str, dict[str, Any]]:
        return dict(get_json(f"{self.base}/api/tasks?limit=500"))

    def of_pipeline(self, pipeline_id: str) -> dict[str, dict[str, Any]]:
        return {t["name"]: t for t in self.tasks().values() if pipeline_id in (t.get("root_id"), t.get("uuid"))}


@pytest.fixture(scope="module")
def flower(
    module_cluster: Cluster, docker_engine: None, sample_changes_module: list[dict[str, Any]]
) -> Iterator[Flower]:
    from tasks import submit_proposal

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # As the Procfile runs it (its own port): bound to loopback, the HTTP API opened for loopback callers only.
    procfile = dict(line.split(":", 1) for line in (REPO / "Procfile").read_text().splitlines() if line.strip())
    options = [o for o in procfile["flower"].split()[4:] if not o.startswith("--port=")]
    module_cluster.spawn("flower", ["flower", *options, f"--port={port}"], FLOWER_UNAUTHENTICATED_API="true")
    wait_until(lambda: reachable(f"{base}/api/workers?refresh=false"), 40, what="flower to listen")
    metrics_port = free_port()
    proc = module_cluster.worker("nodeF", concurrency=3, METRICS_PORT=str(metrics_port))
    run = uuid.uuid4().hex[:8]
    proposals = {verdict: f"{verdict}-{run}" for verdict in ("executed", "rejected", "error")}
    common = {"project_id": f"pl-flower-{run}", "language": "python"}
    results = {
        "executed": submit_proposal(
            proposal_id=proposals["executed"], workspace=str(SAMPLE_PROJECT), changes=sample_changes_module, **common
        ),
        "rejected": submit_proposal(proposal_id=proposals["rejected"], workspace=str(SAMPLE_PROJECT), **common),
        "error": submit_proposal(proposal_id=proposals["error"], workspace=f"/nonexistent/{run}", **common),
    }
    for verdict, result in results.items():
        assert result.get(timeout=180)["status"] == verdict
    worker = f"w1-nodeF@{socket.gethostname()}"
    yield Flower(
        base=base,
        results=results,
        proposals=proposals,
        worker=worker,
        worker_log=proc.text,
        cluster=module_cluster,
        metrics_port=metrics_port,
    )


@pytest.fixture(scope="module")
def sample_changes_module() -> list[dict[str, Any]]:
    return list(json.loads((SAMPLE_PROJECT.parent / "sample_changes.json").read_text()))


def test_every_task_of_a_pipeline_has_its_own_id_and_names_its_proposal(flower: Flower) -> None:
    result = flower.results["executed"]

    def seen() -> dict[str, dict[str, Any]] | None:
        mine = flower.of_pipeline(result.id)
        return mine if all(mine.get(n, {}).get("state") == "SUCCESS" for n in STAGE_TASKS) else None

    mine = wait_until(seen, 30, interval_s=0.5, what="flower to see every stage")
    assert mine["sigma.create"]["uuid"] == result.id  # the caller's AsyncResult id is the pipeline's first task
    assert len({t["uuid"] for t in mine.values()}) == len(STAGE_TASKS)  # no two stages merged into one row
    assert {t["root_id"] for t in mine.values()} == {result.id}
    chain_order = [mine[n] for n in STAGE_TASKS]
    for parent, child in itertools.pairwise(chain_order):  # the links follow the real chain
        assert child["parent_id"] == parent["uuid"], (child["name"], child["parent_id"], parent["uuid"])
    assert {t["worker"] for t in mine.values()} == {flower.worker}
    assert {mine[n]["routing_key"] for n in STAGE_TASKS[1:]} == {"node.nodeF"}
    for task in mine.values():  # each row says which proposal; no change content is ever shown
        assert f"proposal={flower.proposals['executed']}" in task["args"], task["args"]
        assert "def divide" not in json.dumps(task)
    assert mine["sigma.cleanup"]["result"].startswith("'EXECUTED · tests: ")
    assert result.get(timeout=5)["status"] == "executed"  # the whole outcome stays the AsyncResult's


def test_a_rejected_and_an_errored_proposal_end_failed_with_their_verdict_and_no_traceback(flower: Flower) -> None:
    rejected = wait_until(
        lambda: (
            flower.of_pipeline(flower.results["rejected"].id).get("sigma.cleanup", {}).get("state") == "FAILURE"
            and flower.of_pipeline(flower.results["rejected"].id)
        ),
        30,
        interval_s=0.5,
        what="the rejected proposal's last task",
    )
    assert all(rejected[n]["state"] == "SUCCESS" for n in STAGE_TASKS[:-1])  # the stages themselves worked
    assert rejected["sigma.cleanup"]["exception"].startswith("ProposalRejected('REJECTED · tests: ")
    errored = flower.of_pipeline(flower.results["error"].id)
    assert not set(STAGE_TASKS[1:]) & set(errored) and errored["sigma.create"]["state"] == "FAILURE"
    assert re.match(r"ProposalFailed\(['\"]ERROR · create failed: workspace", errored["sigma.create"]["exception"])
    log = flower.worker_log()  # an expected end of a task: logged without a traceback, never as a crash
    assert "ProposalRejected" in log and "Traceback" not in log


def test_a_running_stage_shows_progress_live_and_leaves_no_progress_entry_behind(flower: Flower) -> None:
    from tasks import runtime, submit_proposal

    result = submit_proposal(
        proposal_id=f"slow-{uuid.uuid4().hex[:8]}",
        project_id="pl-flower-slow",
        workspace=str(SAMPLE_PROJECT),
        language="python",
        test_command="sleep 4",
    )

    def in_progress() -> str | None:
        running = [t["name"] for t in flower.of_pipeline(result.id).values() if t["state"] == "PROGRESS"]
        return running[0] if running else None

    assert wait_until(in_progress, 60, interval_s=0.3, what="a stage in PROGRESS") in STAGE_TASKS
    assert result.get(timeout=120)["status"] == "executed"
    stored = {key for key in runtime.store().redis.scan_iter(match=f"celery-task-meta-{result.id}*")}
    # the pipeline's outcome and its last task's verdict; no stage stores a PROGRESS entry
    assert stored == {f"celery-task-meta-{result.id}", f"celery-task-meta-{result.id}-0-cleanup"}


def test_submit_wait_prints_every_stage_from_the_pipelines_own_record(flower: Flower) -> None:
    cli = str(Path(sys.executable).with_name("sigma-exec"))
    argv = [cli, "submit", str(SAMPLE_PROJECT), "-l", "python", "--project-id", "pl-flower-cli", "--wait"]
    argv += ["--changes", str(SAMPLE_PROJECT.parent / "sample_changes.json")]
    done = subprocess.run(argv, env=flower.cluster.env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    shown = re.findall(r"stage (\w+) on node nodeF", done.stderr)
    assert shown == [s.removeprefix("sigma.") for s in STAGE_TASKS], done.stderr
    assert "EXECUTED" in done.stdout.upper()


def test_the_worker_exports_verdict_counts_and_latency_per_node(flower: Flower) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{flower.metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for status in ("executed", "rejected", "error"):
        assert re.search(rf'sigma_verdicts_total\{{node="nodeF",status="{status}"\}} [1-9]', text), text[:2000]
    count = re.search(r'sigma_verdict_latency_seconds_count\{node="nodeF"\} (\d+)', text)
    assert count and int(count.group(1)) >= 2  # the errored one ended on create, before any node queue


# ---- the pages, as a user's browser renders them ----------------------------------------------
class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.parts.append(data.strip())


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("SIGMA_TEST_ARTIFACTS")
    folder = Path(root) / "flower" if root else tmp_path_factory.mktemp("flower-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium(url: str, screenshot: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran (and a screenshot of it), from headless Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is missing: `make test` installs it (scripts/ensure-system.sh)")
    common = [
        browser,
        "--headless=new",
        "--no-sandbox",  # root in CI; the page is our own Flower on loopback
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1600,1000",
        "--virtual-time-budget=8000",
    ]
    subprocess.run([*common, f"--screenshot={screenshot}", url], capture_output=True, timeout=BROWSER_S, check=True)
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=BROWSER_S, check=True)
    return dom.stdout


def test_in_a_browser_the_task_list_names_each_proposal_with_its_verdict_and_the_dashboard_counts_them(
    flower: Flower, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = artifacts_dir(tmp_path_factory)
    profile = tmp_path_factory.mktemp("chromium-profile")

    chromium(f"{flower.base}/tasks", folder / "tasks.png", profile)
    # Where a user finds verdicts: the last task of each pipeline, and every failed task
    last_tasks = page_text(chromium(f"{flower.base}/tasks?name=sigma.cleanup", folder / "verdicts.png", profile))
    failed = page_text(chromium(f"{flower.base}/tasks?state=FAILURE", folder / "failed.png", profile))
    for verdict, proposal_id in flower.proposals.items():
        page = failed if verdict == "error" else last_tasks
        assert proposal_id in page, f"{proposal_id} is not on the page"
        assert re.search(rf"{verdict.upper()} · .{{0,400}}?proposal={re.escape(proposal_id)}", page), verdict
    assert flower.proposals["executed"] not in failed
    assert (folder / "tasks.png").stat().st_size > 10_000

    dashboard = page_text(chromium(f"{flower.base}/workers", folder / "dashboard.png", profile))
    row = re.search(rf"{re.escape(flower.worker)}\s+Online\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", dashboard)
    assert row, dashboard[:2000]
    _active, processed, failed, succeeded, _retried = (int(x) for x in row.groups())
    # executed: 6 succeeded; rejected: 5 stages succeeded + its last task failed; error: create failed
    assert failed == 2, dashboard[:2000]
    assert succeeded >= 11 and processed >= failed + succeeded
    assert (folder / "dashboard.png").stat().st_size > 10_000
