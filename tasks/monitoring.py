"""What Flower (and any Celery event consumer) shows of a pipeline, by Celery's own means.

- Every task of a pipeline has its own id (`stage_task_id`); the pipeline id is the caller's
  `AsyncResult` id (create's id), and the final outcome is stored under it by `tasks.stages._finish`.
- `argsrepr` names the proposal, project, node and attempt instead of the envelope (`label`), so a row
  tells which proposal it belongs to and change contents never reach an event or a log.
- A running stage sends a `task-progress` event (a custom state PROGRESS in Flower, with its stage and
  node); nothing of it is stored in the result backend.
- The last task's result is one readable verdict line (`verdict_line`); a rejected or errored proposal
  ends that task with `ProposalRejected` / `ProposalFailed`, exceptions the task declares in `throws`
  (logged as expected, without a traceback), so Flower's dashboard counts it as failed while every stage
  that ran normally stays succeeded. The full outcome is `AsyncResult(pipeline_id).get()`.

Everything here that came from a proposal or a sandbox is bounded and printable before it leaves.
"""

from __future__ import annotations

from typing import Any, Final

ID_CHARS: Final = 80
LINE_CHARS: Final = 400


class ProposalRejected(Exception):
    """The proposal's verdict is `rejected` (the pipeline itself worked)."""


class ProposalFailed(Exception):
    """The proposal's verdict is `error` (the pipeline could not judge it)."""


def printable(value: object, limit: int = ID_CHARS) -> str:
    """One line, printable ASCII-safe text of at most `limit` characters (for events and logs)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(proposal_id: object, project_id: object, node: str = "", attempt: int = 0) -> str:
    """The `argsrepr` of a pipeline's tasks: which proposal, project, node and attempt."""
    parts = [f"proposal={printable(proposal_id)}", f"project={printable(project_id)}"]
    if node:
        parts.append(f"node={printable(node)}")
    if attempt:
        parts.append(f"attempt={attempt}")
    return "(" + " ".join(parts) + ")"


def stage_task_id(pipeline_id: str, attempt: int, stage: str) -> str:
    """A stage task's own id: readable, unique per pipeline, attempt and stage."""
    return f"{pipeline_id}-{attempt}-{stage}"


COUNTS: Final = (("tests_passed", "passed"), ("tests_failed", "failed"), ("tests_errored", "errored"))


def _counts(tests: dict[str, Any] | None) -> str:
    if not tests:
        return ""
    shown = [f"{tests.get(key) or 0} {word}" for key, word in COUNTS]
    if tests.get("tests_skipped"):
        shown.append(f"{tests['tests_skipped']} skipped")
    return "tests: " + ", ".join(shown)


def stage_summary(stage: str, record: dict[str, Any] | None, tests: dict[str, Any] | None, who: str) -> str:
    """What one stage did, in a line (the first field of the envelope a stage hands on)."""
    parts = [f"{stage} " + ("ok" if record is None or record.get("ok") else "failed")]
    if stage in ("baseline", "test") and tests:
        parts.append(_counts(tests))
    if record and record.get("detail"):
        parts.append(printable(record["detail"], 120))
    parts.append(who)
    return printable(" · ".join(parts), LINE_CHARS)


def verdict_line(outcome: dict[str, Any]) -> str:
    """The outcome in one line: verdict, counts, first reason, proposal, project, node."""
    parts = [str(outcome.get("status") or "?").upper()]
    counts = _counts(outcome.get("tests"))
    if counts:
        parts.append(counts)
    reasons = outcome.get("reasons") or []
    if reasons:
        parts.append(printable(reasons[0], 160) + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""))
    parts.append(f"proposal={printable(outcome.get('proposal_id', ''))}")
    parts.append(f"project={printable(outcome.get('project_id', ''))}")
    if outcome.get("node"):
        parts.append(f"node={printable(outcome['node'])}")
    return printable(" · ".join(parts), LINE_CHARS)


def verdict_result(outcome: dict[str, Any]) -> str:
    """The last task's return value for an executed proposal; raises for rejected and error."""
    line = verdict_line(outcome)
    status = outcome.get("status")
    if status == "rejected":
        raise ProposalRejected(line)
    if status != "executed":
        raise ProposalFailed(line)
    return line
