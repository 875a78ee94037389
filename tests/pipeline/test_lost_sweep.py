"""The lost-pipeline sweep and the once-per-pipeline outcome record, without services (fakeredis).

Broker contents are real kombu messages captured from this project's Redis (`tests/data/kombu/`):
a queued `sigma.create` message and the unacknowledged entry of a `sigma.test` stage, whose root id
is its pipeline's id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fakeredis
import pytest

from tasks.lost import (
    LostSweep,
    forget_dead_local_workers,
    message_ids,
    process_alive,
    queue_keys,
    restore_held_by,
    restore_orphans,
    sweep,
    worker_identity,
)
from tasks.store import PipelineStore

DATA = Path(__file__).resolve().parents[1] / "data" / "kombu"
QUEUED_CREATE = (DATA / "queued_create_message.json").read_bytes()
UNACKED_TEST = (DATA / "unacked_test_stage.json").read_bytes()
CREATE_ID = json.loads(QUEUED_CREATE)["headers"]["id"]
TEST_STAGE_ROOT = json.loads(UNACKED_TEST)[0]["headers"]["root_id"]
QUEUED_CREATE_AS_UNACKED = json.dumps([json.loads(QUEUED_CREATE), "", "proposals"]).encode()
GRACE, CONFIRM = 60.0, 30.0
T0 = 1_000_000.0


@pytest.fixture
def store() -> PipelineStore:
    return PipelineStore(fakeredis.FakeRedis(decode_responses=True))


class Recorder:
    def __init__(self) -> None:
        self.resubmitted: list[tuple[str, str, str, int]] = []
        self.ended: list[tuple[str, str, str]] = []

    def resubmit(self, pipeline_id: str, proposal: dict[str, Any], queue: str, rerun: int) -> None:
        self.resubmitted.append((pipeline_id, proposal["proposal_id"], queue, rerun))

    def end_lost(self, pipeline_id: str, proposal: dict[str, Any], reason: str) -> None:
        self.ended.append((pipeline_id, proposal["proposal_id"], reason))


def run_sweep(store: PipelineStore, now: float, rec: Recorder, max_reruns: int = 1) -> LostSweep:
    return sweep(
        store,
        grace_s=GRACE,
        confirm_s=CONFIRM,
        max_reruns=max_reruns,
        resubmit=rec.resubmit,
        end_lost=rec.end_lost,
        now=now,
    )


def submitted(
    store: PipelineStore, proposal_id: str, pipeline_id: str, at: float = T0, rerunnable: bool = True
) -> None:
    proposal = {"proposal_id": proposal_id, "project_id": "p", "workspace": "/w", "language": "python"}
    store.note_submitted(
        proposal_id, pipeline_id, 3600, proposal=proposal, queue="proposals", now=at, rerunnable=rerunnable
    )


# ---- reading kombu's messages -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (QUEUED_CREATE, {CREATE_ID}),  # create: its id is the pipeline id, and so is its root id
        (UNACKED_TEST, {json.loads(UNACKED_TEST)[0]["headers"]["id"], TEST_STAGE_ROOT}),
        (b"not json", set()),
        (b'{"headers": "odd"}', set()),
        (b"[]", set()),
    ],
)
def test_message_ids_are_the_task_id_and_root_id_of_queued_and_unacked_entries(raw: bytes, expected: set) -> None:
    assert message_ids(raw) == expected


def test_every_priority_list_of_a_queue_is_searched() -> None:
    assert queue_keys(["proposals"]) == ["proposals", "proposals\x06\x163", "proposals\x06\x166", "proposals\x06\x169"]


# ---- the outcome is recorded once per pipeline -----------------------------------------------
def test_a_second_finish_of_the_same_pipeline_records_nothing_and_returns_the_first(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    first = {"status": "error", "error": "lost"}
    assert store.finish("pl", "prop", first, 3600) == first
    assert store.finish("pl", "prop", {"status": "executed"}, 3600) == first
    assert store.outcome("prop") == first
    assert store.pending_since(T0 + 10**6) == []


def test_a_new_submission_of_a_proposal_records_its_own_outcome(store: PipelineStore) -> None:
    submitted(store, "prop", "pl-1")
    store.finish("pl-1", "prop", {"status": "rejected"}, 3600)
    submitted(store, "prop", "pl-2")
    assert store.finish("pl-2", "prop", {"status": "executed"}, 3600) == {"status": "executed"}
    assert store.outcome("prop") == {"status": "executed"}


def test_an_old_pipeline_finishing_late_leaves_the_newer_submission_pending(store: PipelineStore) -> None:
    submitted(store, "prop", "pl-1")
    submitted(store, "prop", "pl-2")
    store.finish("pl-1", "prop", {"status": "executed"}, 3600)
    assert store.pending_since(T0) == ["prop"]
    assert (store.submission("prop") or {})["pipeline_id"] == "pl-2"


def test_a_submission_whose_message_was_never_sent_is_forgotten(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    store.forget_submission("prop", "pl")
    assert store.pending_since(T0) == [] and store.submission("prop") is None


# ---- the sweep ---------------------------------------------------------------------------------
def test_a_proposal_within_its_grace_is_not_looked_at(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    report = run_sweep(store, T0 + GRACE - 1, rec := Recorder())
    assert report.checked == 0 and rec.resubmitted == []


@pytest.mark.parametrize("where", ["queued", "unacked", "worker", "lease"])
def test_a_pipeline_found_anywhere_is_alive(store: PipelineStore, where: str) -> None:
    pipeline_id = CREATE_ID if where == "queued" else TEST_STAGE_ROOT
    submitted(store, "prop", pipeline_id)
    if where == "queued":
        store.redis.lpush("proposals", QUEUED_CREATE)
    elif where == "unacked":
        store.redis.hset("unacked", "tag-1", UNACKED_TEST)
    elif where == "worker":
        store.publish_running("w1@host", [TEST_STAGE_ROOT, "other"], 60)
    else:
        store.hold_lease(pipeline_id, 60, stage="test")
    rec = Recorder()
    for minutes in (2, 4, 6):  # however long it stays there
        report = run_sweep(store, T0 + 60 * minutes, rec)
        assert (report.alive, report.suspects) == (1, [])
    assert rec.resubmitted == [] and rec.ended == []


def test_a_message_on_a_node_queue_at_high_priority_is_found(store: PipelineStore) -> None:
    store.register_node("nodeA", now=T0)
    submitted(store, "prop", CREATE_ID)
    store.redis.lpush("node.nodeA\x06\x169", QUEUED_CREATE)
    assert run_sweep(store, T0 + 2 * GRACE, Recorder()).alive == 1


def test_a_pipeline_found_nowhere_twice_is_rerun_once_then_ended(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    rec = Recorder()

    first = run_sweep(store, T0 + GRACE, rec)  # found nowhere: only a suspect so far
    assert first.suspects == ["prop"] and rec.resubmitted == []
    second = run_sweep(store, T0 + GRACE + CONFIRM, rec)  # still nowhere, far enough apart: lost
    assert second.rerun == ["prop"] and rec.resubmitted == [("pl", "prop", "proposals", 1)]

    # the re-run restarts the grace period; lost again, re-runs are used up: it ends
    assert run_sweep(store, T0 + GRACE + CONFIRM + 1, rec).checked == 0
    later = T0 + 2 * (GRACE + CONFIRM)
    assert run_sweep(store, later, rec).suspects == ["prop"]
    assert run_sweep(store, later + CONFIRM, rec).ended == ["prop"]
    assert rec.ended[0][:2] == ("pl", "prop") and rec.ended[0][2].startswith("pipeline lost: no message of pipeline pl")
    assert "also after 1 re-run(s)" in rec.ended[0][2]
    assert store.pending_since(later + 10**6) == []


def test_a_lost_proposal_kept_without_its_large_change_set_ends_without_a_rerun(store: PipelineStore) -> None:
    submitted(store, "big", "pl-big", rerunnable=False)
    rec = Recorder()
    run_sweep(store, T0 + GRACE, rec)
    assert run_sweep(store, T0 + GRACE + CONFIRM, rec).ended == ["big"] and rec.resubmitted == []
    assert "too large to keep for a re-run" in rec.ended[0][2]


def test_a_suspect_that_turns_up_is_cleared(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    assert run_sweep(store, T0 + GRACE, rec := Recorder()).suspects == ["prop"]
    store.hold_lease("pl", 60, stage="apply")  # the message was on its way to a worker
    assert run_sweep(store, T0 + GRACE + CONFIRM, rec).alive == 1
    store.redis.delete("sigma:pipeline:pl")
    assert run_sweep(store, T0 + GRACE + CONFIRM + 1, rec).suspects == ["prop"]  # first seen anew
    assert rec.resubmitted == []


def test_finished_or_forgotten_proposals_are_dropped_from_the_pending_set(store: PipelineStore) -> None:
    submitted(store, "done", "pl-done")
    store.redis.set("sigma:done:pl-done", "done")  # finished, but its pending entry survived
    submitted(store, "expired", "pl-x")
    store.redis.delete("sigma:submission:expired")
    report = run_sweep(store, T0 + GRACE, rec := Recorder())
    assert sorted(report.dropped) == ["done", "expired"] and rec.resubmitted == []
    assert store.pending_since(T0 + GRACE) == []


def test_two_sweeps_at_once_do_not_both_act(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    with store.lock("lost-sweep-lock", 10_000):
        assert run_sweep(store, T0 + GRACE, Recorder()).skipped == "another sweep holds the lock"


# ---- messages held by a dead worker ------------------------------------------------------------
def unacked(store: PipelineStore, tag: str, delivered_at: float, raw: bytes = UNACKED_TEST) -> None:
    store.redis.hset("unacked", tag, raw)
    store.redis.zadd("unacked_index", {tag: delivered_at})


def orphans(store: PipelineStore, now: float, restored: list[str]) -> list[str]:
    return restore_orphans(store, restored.append, now=now, min_age_s=9, confirm_s=5)


def test_an_old_unacked_message_no_live_worker_holds_goes_back_after_a_confirmation(store: PipelineStore) -> None:
    unacked(store, "tag-1", T0)
    restored: list[str] = []
    assert orphans(store, T0 + 10, restored) == []  # noted once
    assert orphans(store, T0 + 15, restored) == ["tag-1"] == restored
    assert store.suspects("sigma:orphan-suspects") == []


def test_a_message_a_live_worker_holds_or_a_young_one_stays(store: PipelineStore) -> None:
    unacked(store, "held", T0)
    unacked(store, "young", T0 + 100, raw=QUEUED_CREATE_AS_UNACKED)
    store.publish_running("w1#m#1", [json.loads(UNACKED_TEST)[0]["headers"]["id"]], 60)
    restored: list[str] = []
    for dt in (101, 105, 108):  # the young one stays younger than min_age_s
        assert orphans(store, T0 + dt, restored) == []


def test_a_suspect_message_acknowledged_meanwhile_is_forgotten(store: PipelineStore) -> None:
    unacked(store, "tag-1", T0)
    orphans(store, T0 + 10, restored := [])
    store.redis.hdel("unacked", "tag-1")
    store.redis.zrem("unacked_index", "tag-1")
    assert orphans(store, T0 + 15, restored) == [] and store.suspects("sigma:orphan-suspects") == []


def test_a_dead_worker_of_this_machine_is_forgotten_at_once_and_others_are_kept(store: PipelineStore) -> None:
    import subprocess

    gone = subprocess.Popen(["sleep", "0"])
    gone.wait()
    store.publish_running(worker_identity("w1@x", "this-box", gone.pid), ["t1"], 60)
    store.publish_running(worker_identity("w2@x", "other-box", gone.pid), ["t2"], 60)  # cannot be checked here
    assert forget_dead_local_workers(store, "this-box") == [worker_identity("w1@x", "this-box", gone.pid)]
    assert store.running_ids() == {"t2"}
    assert process_alive(gone.pid) is False


def test_the_stage_a_dead_worker_held_goes_back_at_once(store: PipelineStore) -> None:
    stage_id = json.loads(UNACKED_TEST)[0]["headers"]["id"]
    unacked(store, "tag-dead", T0 + 1000)  # young: the orphan rule alone would still wait
    store.hold_lease(TEST_STAGE_ROOT, 600, stage="test", task_id=stage_id, worker="w1#box#41")
    store.hold_lease("other", 600, stage="test", task_id="other-task", worker="w2#box#42")
    restored: list[str] = []
    assert restore_held_by(store, ["w2#box#42"], restored.append) == []
    assert restore_held_by(store, ["w1#box#41"], restored.append) == ["tag-dead"] == restored
