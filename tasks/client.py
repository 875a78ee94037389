"""The caller's side of the pipeline: submit a proposal, follow its progress, ask for its status.

`sigma-exec submit [--wait]` and `sigma-exec status` are built on these three functions.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from celery.result import AsyncResult

from sigma_exec.changes import validate_changes
from sigma_exec.errors import InvalidChangeError, InvalidRequestError
from sigma_exec.pipeline import Proposal
from tasks import runtime
from tasks.app import app
from tasks.config import proposal_queue
from tasks.monitoring import label
from tasks.stages import create

IN_FLIGHT_STATUSES: Final = ("queued", "running")
RERUN_COPY_MAX_BYTES: Final = 1024 * 1024  # proposals up to this size are kept for a re-run if lost
ProgressCallback = Callable[[dict[str, Any]], None]


def submit_proposal(
    *,
    proposal_id: str,
    project_id: str | int,
    workspace: str,
    language: str,
    changes: list[dict[str, Any]] | None = None,
    test_command: str | None = None,
    build_command: str | None = None,
    gpus: int | str | list[str] | None = None,
    target_tests: list[str] | None = None,
) -> AsyncResult:
    """Queue a proposal's pipeline; `.get()` on the result is the JSON outcome dict.

    The workspace path is made absolute here: workers read it from their own file system.
    Raises pydantic.ValidationError for a malformed proposal (a change path with `..`, a batch that writes
    under a path it deletes, ...) and InvalidRequestError for a batch over MAX_CHANGE_FILES / MAX_CHANGE_MB,
    before anything is queued.
    """
    proposal = Proposal(
        proposal_id=proposal_id,
        project_id=project_id,
        workspace=os.path.abspath(os.path.expanduser(workspace)),
        language=language,
        changes=list(changes or []),
        test_command=test_command,
        build_command=build_command,
        gpus=gpus,
        target_tests=list(target_tests or []),
    )
    settings = runtime.settings()
    try:  # the caps are the operator's: a batch over them is refused before anything is queued
        validate_changes(proposal.changes, max_files=settings.MAX_CHANGE_FILES, max_bytes=settings.MAX_CHANGE_MB << 20)
    except InvalidChangeError as exc:
        raise InvalidRequestError(f"invalid proposal: changes: {exc}") from exc
    pipeline_id, queue, payload = uuid.uuid4().hex, proposal_queue(gpus), proposal.model_dump(mode="json")
    store = runtime.store()
    # Tracked as pending before it is sent: `tasks.lost` re-runs it if its message vanishes. A large
    # change set is not kept twice in Redis: such a proposal, if lost, ends `error` instead.
    rerunnable = len(json.dumps(payload)) <= RERUN_COPY_MAX_BYTES
    store.note_submitted(
        proposal.proposal_id,
        pipeline_id,
        runtime.queue_settings().OUTCOME_TTL_SECONDS,
        proposal=payload if rerunnable else {**payload, "changes": []},
        queue=queue,
        rerunnable=rerunnable,
    )
    try:
        create.apply_async(
            args=[payload],
            task_id=pipeline_id,
            queue=queue,
            argsrepr=label(proposal.proposal_id, proposal.project_id),
            kwargsrepr="{}",
        )
    except BaseException:
        store.forget_submission(proposal.proposal_id, pipeline_id)
        raise
    # Not create's own result (create stores none): the pipeline's, which its last stage resolves.
    return app.AsyncResult(pipeline_id)


def status(proposal_id: str) -> dict[str, Any] | None:
    """The final outcome of a proposal, an in-flight view (`status` queued/running), or None if unknown.

    The in-flight view is the ledger's position: the stage actually queued or running, its node and
    attempt; it answers for as long as the submission lives (OUTCOME_TTL_SECONDS).
    """
    store = runtime.store()
    outcome = store.outcome(proposal_id)
    if outcome is not None:
        return outcome
    pipeline_id = store.pipeline_of(proposal_id)
    if pipeline_id is None:
        return None
    position = store.position(pipeline_id)
    if position is None:
        return {"proposal_id": proposal_id, "pipeline_id": pipeline_id, "status": "queued", "stage": None, "node": None}
    return {
        "proposal_id": proposal_id,
        "pipeline_id": pipeline_id,
        "status": str(position.state),
        "stage": position.stage,
        "node": position.node or None,
        "attempt": position.attempt,
    }


def default_follow_timeout_s() -> float:
    """Long enough for every stage to hit its hard limit once and one redelivery after a lost worker."""
    limits = runtime.limits()
    return float(5 * limits.hard_s + limits.visibility_s)


def follow(
    result: AsyncResult,
    on_progress: ProgressCallback | None = None,
    *,
    poll_s: float = 0.25,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Wait for the outcome, calling `on_progress(info)` once for every stage the pipeline started.

    The stages come from the pipeline's own history in the ledger, so none is missed however short it
    was; `info` carries `stage`, `node`, `attempt` and `at`. Raises TimeoutError after `timeout_s`
    (default: `default_follow_timeout_s()`).
    """
    deadline = time.monotonic() + (timeout_s if timeout_s is not None else default_follow_timeout_s())
    seen = 0

    def report_new() -> None:
        nonlocal seen
        entries = runtime.store().history(result.id, seen)
        seen += len(entries)
        for entry in entries:
            if on_progress is not None:
                on_progress(entry)

    while not result.ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"pipeline {result.id} did not finish in time")
        report_new()
        time.sleep(poll_s)
    report_new()  # the stages that started since the last look
    if result.failed():
        return {"pipeline_id": result.id, "status": "error", "error": f"pipeline task failed: {result.result!r}"}
    outcome: dict[str, Any] = result.get(timeout=max(1.0, deadline - time.monotonic()))
    return outcome
