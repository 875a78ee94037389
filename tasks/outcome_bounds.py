"""Outcomes kept in Redis stay bounded in every field (pure).

Whatever a proposal or a sandbox can make long (paths, ids, commands, outputs, reasons) is cut here,
so that no outcome exceeds MAX_OUTCOME_BYTES.
"""

from __future__ import annotations

import json
from typing import Any, Final

MAX_ERROR_CHARS: Final = 2000
MAX_REASONS: Final = 20
MAX_OUTCOME_BYTES: Final = 256 * 1024
OUTPUT_FALLBACK_CHARS: Final = 1000
TRANSITION_IDS_FALLBACK: Final = 50
MAX_LISTED: Final = 200
MAX_WARNINGS: Final = 50


def truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit] + "…"


def _ids(values: Any, count: int, chars: int) -> list[str]:
    return [truncate(str(v), chars) for v in values[:count]] if isinstance(values, list) else []


def bound_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """Cap an outcome's size in every field (pure): lists and texts first, then whole sections."""
    bounded = _bound_fields(dict(outcome))
    if _size(bounded) > MAX_OUTCOME_BYTES:
        _drop_bulk(bounded)
    if _size(bounded) > MAX_OUTCOME_BYTES and isinstance(bounded.get("transitions"), dict):
        bounded["transitions"] = {
            name: _ids(ids, TRANSITION_IDS_FALLBACK, 300) for name, ids in bounded["transitions"].items()
        }
    if _size(bounded) > MAX_OUTCOME_BYTES:  # the last resort: the verdict and why, nothing else
        keep = ("proposal_id", "project_id", "status", "error", "reasons", "node", "policy")
        bounded = {key: bounded.get(key) for key in keep} | {"reasons": bounded["reasons"][:5]}
    return bounded


def _size(outcome: dict[str, Any]) -> int:
    return len(json.dumps(outcome))


def _bound_fields(bounded: dict[str, Any]) -> dict[str, Any]:
    if bounded.get("error"):
        bounded["error"] = truncate(str(bounded["error"]))
    bounded["reasons"] = _ids(bounded.get("reasons") or [], MAX_REASONS, MAX_ERROR_CHARS)
    bounded["flagged_paths"] = _ids(bounded.get("flagged_paths") or [], MAX_LISTED, 300)
    bounded["warnings"] = _ids(bounded.get("warnings") or [], MAX_WARNINGS, 500)
    for part in ("tests", "build"):
        if isinstance(bounded.get(part), dict):
            section = dict(bounded[part])
            for key in ("command", "error"):
                if section.get(key):
                    section[key] = truncate(str(section[key]))
            for key in ("flaky", "steps"):
                if key in section:
                    section[key] = _ids(section[key], MAX_LISTED, 300)
            bounded[part] = section
    return bounded


def _drop_bulk(bounded: dict[str, Any]) -> None:
    for part in ("tests", "build"):
        if isinstance(bounded.get(part), dict):
            section = dict(bounded[part])
            section["cases"] = section["rerun_cases"] = []
            section["output"] = truncate(str(section.get("output") or ""), OUTPUT_FALLBACK_CHARS)
            bounded[part] = section
    for record in bounded.get("stages") or []:
        if record.get("detail"):
            record["detail"] = truncate(str(record["detail"]), 200)
