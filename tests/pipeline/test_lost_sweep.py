"""The ledger's lost-pipeline sweep, fencing and the once-per-pipeline outcome record (fakeredis).

Nothing here reads the broker: the sweep judges pending proposals from their positions, the workers'
published holdings and the nodes' heartbeats; the only broker question (a queue's length) is a stub.
"""

from __future__ import annotations

import subprocess
from typing import Any

import fakeredis
import pytest

from tasks.lost import (
    Cluster,
    Liveness,
    LostSweep,
    SweepRules,
    forget_dead_local_workers,
    judge,
    process_alive,
    sweep,
    worker_identity,
)
from tasks.store import PipelineStore, Position, PositionState

GRACE, CONFIRM, NODE_LOST, RUNNING_TTL = 60.0, 30.0, 95.0, 65.0
T0 = 1_000_000.0
RULES = SweepRules(grace_s=GRACE, confirm_s=CONFIRM, node_lost_s=NODE_LOST, running_ttl_s=RUNNING_TTL, max_reruns=1)


@pytest.fixture
def store() -> PipelineStore:
    return PipelineStore(fakeredis.FakeRedis(decode_responses=True))


class Recorder:
    def __init__(self) -> None:
        self.resubmitted: list[tuple[str, str, str, int]] = []
        self.ended: list[tuple[str, str, str]] = []
        self.queues: dict[str, int] = {}

    def resubmit(self, pipeline_id: str, proposal: dict[str, Any], queue: str, attempt: int) -> None:
        self.resubmitted.append((pipeline_id, proposal["proposal_id"], queue, attempt))

    def end_lost(self, pipeline_id: str, proposal: dict[str, Any], reason: str) -> None:
        self.ended.append((pipeline_id, proposal["proposal_id"], reason))

    def queue_length(self, queue: str) -> int:
        return self.queues.get(queue, 0)


def run_sweep(store: PipelineStore, now: float, rec: Recorder, max_reruns: int = 1) -> LostSweep:
    return sweep(
        store,
        rules=SweepRules(**{**RULES.__dict__, "max_reruns": max_reruns}),
        queue_length=rec.queue_length,
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


def running(store: PipelineStore, pipeline_id: str, worker: str, at: float, stage: str = "test") -> None:
    assert store.move(pipeline_id, 0, 3600, now=at, stage=stage, state="running", worker=worker, node="nodeA")


def queued_on_node(store: PipelineStore, pipeline_id: str, node: str, at: float, stage: str = "test") -> None:
    assert store.move(pipeline_id, 0, 3600, now=at, stage=stage, state="queued", queue=f"node.{node}", node=node)


# ---- judging one pipeline (pure) -----------------------------------------------------------------
NOW = T0 + 1000
LIVE = Cluster(
    held=frozenset({"held-pl"}), workers=frozenset({"w1#box#1"}), nodes={"nodeA": NOW - 10, "nodeB": NOW - 200}
)


@pytest.mark.parametrize(
    ("pipeline_id", "position", "backlog", "expected", "cause"),
    [
        ("held-pl", Position(state=PositionState.RUNNING, worker="gone#box#9", since=T0), 0, Liveness.ALIVE, ""),
        (
            "pl",
            Position(state=PositionState.RUNNING, worker="gone#box#9", since=NOW),
            0,
            Liveness.LOST,
            "worker gone#box#9 died",
        ),
        ("pl", Position(state=PositionState.RUNNING, worker="w1#box#1", since=NOW - 5), 0, Liveness.ALIVE, ""),
        (
            "pl",
            Position(state=PositionState.RUNNING, worker="w1#box#1", since=T0),
            0,
            Liveness.SUSPECT,
            "no live worker holds it",
        ),
        (
            "pl",
            Position(stage="apply", queue="node.nodeB", since=NOW),
            0,
            Liveness.LOST,
            "node nodeB lost (no heartbeat for 200s)",
        ),
        (
            "pl",
            Position(stage="apply", queue="node.nodeZ", since=NOW),
            0,
            Liveness.LOST,
            "node nodeZ lost (never registered)",
        ),
        ("pl", Position(stage="apply", queue="node.nodeA", since=NOW - 5), 0, Liveness.ALIVE, ""),
        ("pl", Position(stage="apply", queue="node.nodeA", since=T0), 3, Liveness.ALIVE, ""),
        (
            "pl",
            Position(stage="apply", queue="node.nodeA", since=T0),
            0,
            Liveness.SUSPECT,
            "no message of its apply stage",
        ),
        ("pl", Position(queue="proposals", since=T0), 0, Liveness.SUSPECT, "no message of its create stage"),
    ],
)
def test_a_pipeline_is_judged_from_the_ledger_alone(
    pipeline_id: str, position: Position, backlog: int, expected: Liveness, cause: str
) -> None:
    verdict = judge(pipeline_id, position, LIVE, lambda _queue: backlog, RULES, NOW)
    assert verdict.liveness == expected
    assert cause in verdict.cause


# ---- the record of outcomes and positions --------------------------------------------------------
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


def test_status_keeps_answering_while_a_stage_runs(store: PipelineStore) -> None:
    """Regression: a stage's lease used to rewrite the proposal's record with the lease's short lifetime."""
    submitted(store, "prop", "pl")
    running(store, "pl", "w1#box#1", T0)
    assert store.pipeline_of("prop") == "pl" and store.redis.ttl("sigma:proposal:prop") > 3000
    position = store.position("pl")
    assert position is not None and (position.stage, position.state, position.node) == ("test", "running", "nodeA")


def test_a_superseded_attempt_can_neither_move_nor_finish(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    assert store.note_rerun("prop", "pl", "proposals", 3600, now=T0 + 1) == 1
    assert store.move("pl", 0, 3600, stage="build", state="queued") is False
    assert store.finish("pl", "prop", {"status": "executed"}, 3600, attempt=0) is None
    assert store.outcome("prop") is None and store.pending_since(T0 + 10) == ["prop"]
    assert store.move("pl", 1, 3600, stage="create", state="running") is True
    assert store.finish("pl", "prop", {"status": "rejected"}, 3600, attempt=1) == {"status": "rejected"}
    assert store.move("pl", 1, 3600, stage="test", state="running") is False  # finished: nothing moves any more


def test_a_sandbox_is_live_only_on_the_node_its_pipeline_is_placed_on(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    assert store.pipeline_liveness(["pl"], node="nodeA") == ({"pl"}, set())  # not placed yet
    queued_on_node(store, "pl", "nodeB", T0)
    assert store.pipeline_liveness(["pl"], node="nodeA") == (set(), {"pl"})  # a lost run's sandbox
    assert store.pipeline_liveness(["pl"], node="nodeB") == ({"pl"}, set())


# ---- the sweep ---------------------------------------------------------------------------------
def test_a_proposal_within_its_grace_is_alive(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    report = run_sweep(store, T0 + GRACE - 1, rec := Recorder())
    assert report.alive == 1 and rec.resubmitted == []


@pytest.mark.parametrize("where", ["waiting", "worker", "running"])
def test_a_pipeline_a_live_part_of_the_ledger_vouches_for_is_alive(store: PipelineStore, where: str) -> None:
    submitted(store, "prop", "pl")
    rec = Recorder()
    if where == "waiting":  # its queue still holds messages
        rec.queues["proposals"] = 4
    elif where == "worker":
        store.publish_running("w1#box#1", ["pl", "other"], 10**7)
    else:
        store.publish_running("w1#box#1", ["pl"], 10**7)
        running(store, "pl", "w1#box#1", T0 + 100)
    for minutes in (2, 4, 6):  # however long it stays there
        report = run_sweep(store, T0 + 60 * minutes, rec)
        assert (report.alive, report.suspects) == (1, [])
    assert rec.resubmitted == [] and rec.ended == []


def test_a_pipeline_found_nowhere_twice_is_rerun_once_as_a_new_attempt_then_ended(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    rec = Recorder()

    first = run_sweep(store, T0 + GRACE, rec)  # found nowhere: only a suspect so far
    assert first.suspects == ["prop"] and rec.resubmitted == []
    second = run_sweep(store, T0 + GRACE + CONFIRM, rec)  # still nowhere, far enough apart: lost
    assert second.rerun == ["prop"] and rec.resubmitted == [("pl", "prop", "proposals", 1)]
    position = store.position("pl")
    assert position is not None and (position.attempt, position.stage, position.state) == (1, "create", "queued")

    # the re-run restarts the grace period; lost again, re-runs are used up: it ends
    assert run_sweep(store, T0 + GRACE + CONFIRM + 1, rec).alive == 1
    later = T0 + 2 * (GRACE + CONFIRM)
    assert run_sweep(store, later, rec).suspects == ["prop"]
    assert run_sweep(store, later + CONFIRM, rec).ended == ["prop"]
    assert rec.ended[0][:2] == ("pl", "prop")
    assert rec.ended[0][2].startswith("pipeline lost: no message of its create stage was left in the broker")
    assert "also after 1 re-run(s)" in rec.ended[0][2]
    assert store.pending_since(later + 10**6) == []


def test_a_stage_on_a_worker_that_died_is_rerun_at_once(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    running(store, "pl", "w1#box#1", T0 + 5)  # its worker published nothing: no sign of life
    report = run_sweep(store, T0 + 10, rec := Recorder())
    assert report.rerun == ["prop"] and "worker w1#box#1 died while running its test stage" in report.causes["prop"]
    assert rec.resubmitted == [("pl", "prop", "proposals", 1)]


def test_a_stage_queued_on_a_lost_node_ends_with_the_node_named_when_no_rerun_is_left(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    store.register_node("nodeB", now=T0)
    queued_on_node(store, "pl", "nodeB", T0 + 1, stage="build")
    rec = Recorder()
    rec.queues["node.nodeB"] = 1  # its message waits on the queue only nodeB consumes
    assert run_sweep(store, T0 + NODE_LOST - 1, rec, max_reruns=0).alive == 1  # nodeB may still come back
    report = run_sweep(store, T0 + NODE_LOST + 1, rec, max_reruns=0)
    assert report.ended == ["prop"] and rec.resubmitted == []
    assert rec.ended[0][2].startswith("pipeline lost: node nodeB lost (no heartbeat for 96s) while its build stage")


def test_a_lost_proposal_kept_without_its_large_change_set_ends_without_a_rerun(store: PipelineStore) -> None:
    submitted(store, "big", "pl-big", rerunnable=False)
    rec = Recorder()
    run_sweep(store, T0 + GRACE, rec)
    assert run_sweep(store, T0 + GRACE + CONFIRM, rec).ended == ["big"] and rec.resubmitted == []
    assert "too large to keep for a re-run" in rec.ended[0][2]


def test_a_suspect_that_turns_up_is_cleared(store: PipelineStore) -> None:
    submitted(store, "prop", "pl")
    assert run_sweep(store, T0 + GRACE, rec := Recorder()).suspects == ["prop"]
    store.publish_running("w1#box#1", ["pl"], 10**7)  # the message reached a worker after all
    assert run_sweep(store, T0 + GRACE + CONFIRM, rec).alive == 1
    store.forget_worker("w1#box#1")
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


def test_a_dead_worker_of_this_machine_is_forgotten_at_once_and_others_are_kept(store: PipelineStore) -> None:
    gone = subprocess.Popen(["sleep", "0"])
    gone.wait()
    store.publish_running(worker_identity("w1@x", "this-box", gone.pid), ["t1"], 60)
    store.publish_running(worker_identity("w2@x", "other-box", gone.pid), ["t2"], 60)  # cannot be checked here
    assert forget_dead_local_workers(store, "this-box") == [worker_identity("w1@x", "this-box", gone.pid)]
    assert store.running_ids() == {"t2"}
    assert process_alive(gone.pid) is False
