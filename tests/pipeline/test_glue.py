"""Pure glue of the pipeline, without services: Redis state (fakeredis), limits, routing, reaping choices."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from pipeline_helpers import REPO

from sigma_exec.executor import DockerExecutor
from sigma_exec.settings import Settings
from tasks.config import (
    PROPOSALS_QUEUE,
    QueueSettings,
    celery_config,
    check_time_limits,
    node_queue,
    time_limits,
)
from tasks.store import PipelineStore


@pytest.fixture
def store() -> PipelineStore:
    return PipelineStore(fakeredis.FakeRedis(decode_responses=True))


def queue_settings(**values: Any) -> QueueSettings:
    return QueueSettings(**values)


# ---- delivery counter -------------------------------------------------------------------------
def test_each_delivery_of_a_message_is_counted_and_expires(store: PipelineStore) -> None:
    assert [store.count_delivery("t1") for _ in range(3)] == [1, 2, 3]
    assert store.redis.ttl("sigma:deliveries:t1:0") > 0


def test_a_retry_is_a_new_message_with_its_own_count(store: PipelineStore) -> None:
    store.count_delivery("t1", retries=0)
    store.count_delivery("t1", retries=0)
    assert store.count_delivery("t1", retries=1) == 1


# ---- leases and liveness ----------------------------------------------------------------------
def test_a_position_marks_a_pipeline_live_until_it_finishes(store: PipelineStore) -> None:
    store.note_submitted("prop-1", "p1", 3600)
    store.move("p1", 0, 60, proposal_id="prop-1", stage="test", task_id="t", node="nodeA")
    assert store.pipeline_liveness(["p1", "p2"]) == ({"p1"}, set())
    assert store.lease("p1")["stage"] == "test"
    assert store.pipeline_of("prop-1") == "p1"
    assert 0 < store.redis.ttl("sigma:pipeline:p1") <= 60

    store.finish("p1", "prop-1", {"status": "executed"}, ttl_s=3600)
    assert store.pipeline_liveness(["p1"]) == (set(), {"p1"})
    assert store.lease("p1") is None
    assert store.outcome("prop-1") == {"status": "executed"}
    assert store.redis.ttl("sigma:outcome:prop-1") > 0


def test_a_pipeline_without_lease_or_record_is_neither_live_nor_dead(store: PipelineStore) -> None:
    assert store.pipeline_liveness(["unknown"]) == (set(), set())
    assert store.pipeline_liveness([]) == (set(), set())


# ---- node registry ----------------------------------------------------------------------------
def test_nodes_heard_from_recently_are_known_and_silent_ones_forgotten(store: PipelineStore) -> None:
    now = time.time()
    store.register_node("nodeA", now=now)
    store.register_node("nodeB", now=now - 10)
    store.register_node("gone", now=now - 10_000)
    assert store.known_nodes(forget_after_s=3600, now=now) == ["nodeA", "nodeB"]
    assert store.redis.zscore("sigma:nodes", "gone") is None


# ---- reaper lock ------------------------------------------------------------------------------
def test_only_one_reaper_of_a_node_holds_the_lock_at_a_time(store: PipelineStore) -> None:
    with store.reaper_lock("nodeA", 10_000) as first:
        with store.reaper_lock("nodeA", 10_000) as second, store.reaper_lock("nodeB", 10_000) as other:
            assert (first, second, other) == (True, False, True)
        assert store.redis.exists("sigma:reaper-lock:nodeA")  # the loser did not release it
    with store.reaper_lock("nodeA", 10_000) as again:
        assert again


def test_a_redis_outage_is_a_retryable_error() -> None:
    from sigma_exec.errors import BrokerUnavailableError, RetryableError

    dead = PipelineStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(BrokerUnavailableError) as caught:
        dead.count_delivery("t")
    assert isinstance(caught.value, RetryableError)


# ---- time limits and configuration ------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "broken"),
    [
        ({}, []),
        ({"CELERY_SOFT_TIME_LIMIT": 100}, ["shorter than the longest stage"]),
        # the tests with the build after them in one stage: 300 + 600 + 5
        ({"CELERY_SOFT_TIME_LIMIT": 700}, ["shorter than the longest stage"]),
        ({"CELERY_SOFT_TIME_LIMIT": 1000, "CELERY_TIME_LIMIT": 1000}, ["must exceed CELERY_SOFT_TIME_LIMIT"]),
        ({"CELERY_VISIBILITY_TIMEOUT": 900}, ["delivered twice"]),
    ],
)
def test_time_limits_must_nest(env: dict[str, int], broken: list[str]) -> None:
    problems = check_time_limits(Settings(TEST_TIMEOUT=300, BUILD_TIMEOUT=600), queue_settings(**env))
    assert len(problems) == len(broken)
    for problem, expected in zip(problems, broken, strict=True):
        assert expected in problem


def test_default_limits_nest_and_small_ones_are_possible_for_tests() -> None:
    limits = time_limits(Settings(TEST_TIMEOUT=300, BUILD_TIMEOUT=600), queue_settings())
    assert 905 <= limits.soft_s < limits.hard_s < limits.visibility_s < limits.lease_s
    without_build = time_limits(Settings(TEST_TIMEOUT=300, BUILD_TIMEOUT=600, AUTO_BUILD=False), queue_settings())
    assert 605 <= without_build.soft_s < limits.soft_s
    settings = Settings(TEST_TIMEOUT=10, BUILD_TIMEOUT=5)  # pipeline_helpers.SMALL_TIME_LIMITS
    small = queue_settings(
        CELERY_SOFT_TIME_LIMIT=20, CELERY_TIME_LIMIT=25, CELERY_VISIBILITY_TIMEOUT=30, CELERY_RETRY_BACKOFF_MAX=2
    )
    assert check_time_limits(settings, small) == []
    assert time_limits(settings, small).restore_interval_s == 7


def test_the_app_speaks_json_only_and_acks_late() -> None:
    conf = celery_config(Settings(), queue_settings())
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert conf["accept_content"] == ["json"]
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_track_started"] and conf["worker_send_task_events"] and conf["task_send_sent_event"]
    transport = conf["broker_transport_options"]
    assert transport["visibility_timeout"] == conf["visibility_timeout"] > conf["task_time_limit"]
    assert conf["result_backend_transport_options"]["visibility_timeout"] == conf["visibility_timeout"]
    json.dumps(conf)  # nothing in it needs pickling


def test_broker_and_backend_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    conf = celery_config(Settings(), queue_settings())
    assert conf["broker_url"] == conf["result_backend"] == "redis://localhost:6379/0"
    conf = celery_config(
        Settings(CELERY_BROKER_URL="redis://r:1/2", CELERY_RESULT_BACKEND="redis://r:1/3"), queue_settings()
    )
    assert (conf["broker_url"], conf["result_backend"]) == ("redis://r:1/2", "redis://r:1/3")


# ---- routing ----------------------------------------------------------------------------------
def test_create_goes_to_the_shared_queue_and_every_worker_consumes_its_node_queue() -> None:
    from celery.signals import celeryd_after_setup

    from tasks import app

    assert app.conf.task_default_queue == PROPOSALS_QUEUE
    assert node_queue("nodeA") == "node.nodeA"
    added: list[str] = []

    class FakeQueues:
        def select_add(self, name: str) -> None:
            added.append(name)

    class FakeWorker:
        class app:
            class amqp:
                queues = FakeQueues()

    celeryd_after_setup.send(sender="w1@host", instance=FakeWorker(), conf=app.conf)
    from tasks import runtime

    assert added == [node_queue(runtime.settings().node)]


def test_beat_feeds_a_reap_task_to_every_known_node_queue(
    store: PipelineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import reaping, runtime

    store.register_node("nodeA")
    store.register_node("nodeB")
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(runtime, "store", lambda: store)
    monkeypatch.setattr(reaping.reap_node_task, "apply_async", lambda **kw: sent.append(kw))

    assert reaping.reap_all_nodes.run() == ["nodeA", "nodeB"]
    assert [s["queue"] for s in sent] == ["node.nodeA", "node.nodeB"]
    assert all(s["expires"] > 0 for s in sent)


# ---- reaping decisions with liveness ----------------------------------------------------------
class FakeBackend:
    def __init__(self, containers: list[dict[str, Any]]) -> None:
        self.containers = containers
        self.removed: list[str] = []

    def list_containers(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        return [c for c in self.containers if all(c["Labels"].get(k) == v for k, v in labels.items())]

    def remove(self, container_id: str) -> bool:
        self.removed.append(container_id)
        return True

    def all_images(self) -> list[dict[str, Any]]:
        return []

    def list_networks(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        return []

    def container_names(self, labels: dict[str, str]) -> dict[str, str]:
        return {c["Id"]: c["Id"] for c in self.list_containers(labels)}


def sandbox(cid: str, pipeline: str, *, expired: bool = False, node: str = "nodeA") -> dict[str, Any]:
    now = int(time.time())
    labels = {
        "sigma.managed": "1",
        "sigma.node": node,
        "sigma.pipeline": pipeline,
        "sigma.created-at": str(now - 3600),
        "sigma.expires-at": str(now - 1 if expired else now + 3600),
    }
    return {"Id": cid, "Labels": labels, "State": "running", "Created": now - 3600}


def test_the_reaper_spares_live_pipelines_and_removes_finished_and_expired_ones(store: PipelineStore) -> None:
    from tasks.reaping import _reap_with_liveness

    store.move("live", 0, 60, stage="test")
    store.finish("ended", "prop-ended", {}, ttl_s=60)
    backend = FakeBackend(
        [
            sandbox("c-live-expired", "live", expired=True),
            sandbox("c-ended", "ended"),
            sandbox("c-running", "unknown"),
            sandbox("c-expired", "unknown", expired=True),
            sandbox("c-other-node", "ended", node="nodeB"),
        ]
    )
    executor = DockerExecutor(Settings(SIGMA_NODE="nodeA"), backend=backend)  # type: ignore[arg-type]
    report = _reap_with_liveness(executor, store, "nodeA", time.time())
    assert sorted(report.removed) == ["c-ended", "c-expired"]
    assert report.reasons["c-ended"] == "pipeline ended"


def test_reap_node_skips_when_another_reaper_holds_the_lock(
    store: PipelineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import reaping, runtime

    backend = FakeBackend([sandbox("c1", "ended", expired=True)])
    ready = DockerExecutor(Settings(SIGMA_NODE="nodeA"), backend=backend)  # type: ignore[arg-type]
    monkeypatch.setattr(runtime, "executor", lambda require=False: ready)
    with store.reaper_lock("nodeA", 10_000):
        report = reaping.reap_node("nodeA", store=store)
    assert "skipped" in report and backend.removed == []
    assert reaping.reap_node("nodeA", store=store)["removed"] == ["c1"]


# ---- outcome size and the one Celery boundary ---------------------------------------------------
def test_outcomes_are_bounded_in_size() -> None:
    from tasks.outcome_bounds import MAX_OUTCOME_BYTES, bound_outcome

    huge = {
        "error": "e" * 100_000,
        "reasons": ["r" * 10_000] * 100,
        "tests": {"cases": [{"name": "x" * 1000}] * 1000, "output": "o" * 500_000},
        "build": {"output": "b" * 500_000},
        "stages": [{"name": "test", "detail": "d" * 10_000}],
        "transitions": {"broken": [f"t{i}" + "i" * 999 for i in range(500)], "fixed": ["a"]},
        "flagged_paths": [f"tests/{i}/" + "p" * 200 for i in range(5000)],
        "warnings": ["w" * 5000] * 500,
    }
    bounded = bound_outcome(huge)
    assert len(json.dumps(bounded)) < MAX_OUTCOME_BYTES
    assert bounded["error"].startswith("eee") and len(bounded["reasons"]) == 20
    assert len(bounded["transitions"]["broken"]) == 50 and bounded["transitions"]["fixed"] == ["a"]
    assert len(bounded["flagged_paths"]) == 200 and len(bounded["warnings"]) == 50


def test_a_long_test_command_and_many_protected_paths_stay_under_the_cap() -> None:
    from tasks.outcome_bounds import MAX_OUTCOME_BYTES, bound_outcome

    outcome = {
        "status": "rejected",
        "reasons": ["changes touch protected paths"],
        "tests": {"command": "x" * 2_000_000, "cases": [], "output": ""},
        "flagged_paths": ["p" * 1000] * 5000,
    }
    bounded = bound_outcome(outcome)
    assert len(json.dumps(bounded)) < MAX_OUTCOME_BYTES
    assert bounded["status"] == "rejected" and bounded["reasons"] == ["changes touch protected paths"]


def test_only_the_tasks_package_imports_celery() -> None:
    pattern = re.compile(r"^\s*(import celery|from celery[\s.])", re.MULTILINE)
    offenders = [
        str(path.relative_to(REPO))
        for path in Path(REPO, "sigma_exec").rglob("*.py")
        if pattern.search(path.read_text(errors="replace"))
    ]
    assert offenders == []


def test_only_the_broker_adapter_imports_kombu_and_nothing_reads_its_storage() -> None:
    importer = re.compile(r"^\s*(import kombu|from kombu[\s.])", re.MULTILINE)
    storage = re.compile(r"[\"']unacked[\"']|unacked_index|_kombu\.binding|\\x06\\x16|restore_by_tag")
    sources = [*Path(REPO, "tasks").rglob("*.py"), *Path(REPO, "sigma_exec").rglob("*.py")]
    importers = sorted(str(p.relative_to(REPO)) for p in sources if importer.search(p.read_text(errors="replace")))
    assert importers == ["tasks/broker.py"]
    assert [str(p.relative_to(REPO)) for p in sources if storage.search(p.read_text(errors="replace"))] == []


def test_importing_the_celery_app_reads_no_setting() -> None:
    """Settings are read when first used: a bad value fails there, naming itself, not at import."""
    import subprocess
    import sys

    code = (
        "import tasks\n"
        "from tasks.app import app\n"
        "print('imported')\n"
        "try:\n"
        "    app.conf.broker_url\n"
        "except Exception as exc:\n"
        "    print('on use:', exc)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "TEST_TIMEOUT": "not-a-number", "HOME": "/tmp"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported\n") and "TEST_TIMEOUT" in done.stdout


def test_each_recorded_outcome_is_counted_once_per_node_with_its_latency(store: PipelineStore) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from tasks.metrics import VerdictCollector

    now = time.time()
    store.note_submitted("p1", "pl-1", 3600, proposal={"proposal_id": "p1"}, now=now - 3)
    store.note_submitted("p2", "pl-2", 3600, proposal={"proposal_id": "p2"}, now=now - 40)
    store.finish("pl-1", "p1", {"status": "executed", "node": "nodeA"}, 3600)
    store.finish("pl-1", "p1", {"status": "executed", "node": "nodeA"}, 3600)  # a redelivered last stage
    store.finish("pl-2", "p2", {"status": "rejected", "node": "nodeA"}, 3600)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(VerdictCollector(store.redis))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert 'sigma_verdicts_total{node="nodeA",status="executed"} 1.0' in text
    assert 'sigma_verdicts_total{node="nodeA",status="rejected"} 1.0' in text
    assert 'sigma_verdict_latency_seconds_bucket{le="5.0",node="nodeA"} 1.0' in text
    assert 'sigma_verdict_latency_seconds_bucket{le="60.0",node="nodeA"} 2.0' in text
    assert 'sigma_verdict_latency_seconds_count{node="nodeA"} 2.0' in text
