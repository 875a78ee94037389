"""Validation of a change batch, whole, before anything is written (pure)."""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator

from sigma_exec.constants import MAX_NAME_CHARS, MAX_PATH_CHARS
from sigma_exec.errors import InvalidChangeError

ALLOWED_KEYS = frozenset({"filepath", "path", "content", "delete", "mode", "encoding"})
MAX_ARGS_CHARS = 1_000_000  # keeps the in-sandbox path check under the kernel's ARG_MAX


class Change(BaseModel):
    """One change of a batch, parsed once at the boundary: write `content` to `path`, or delete `path`.

    Built from the wire form `{"filepath" (or "path"), "content", "encoding": "base64"?, "mode"?}` or
    `{"filepath", "delete": true}`; the path is normalised (relative, no `..`, no control characters).
    It serialises back to the wire form (content as base64), so a Change survives JSON (Celery) unchanged.
    """

    model_config = ConfigDict(frozen=True)

    path: str  # normalised, relative to /workspace
    content: bytes | None = None
    delete: bool = False
    mode: int = 0o644

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, value: object) -> object:
        if isinstance(value, Change):
            return value
        try:
            return parse_change(value)
        except InvalidChangeError as exc:
            raise ValueError(str(exc)) from None

    @model_serializer(mode="plain")
    def _to_wire(self) -> dict[str, Any]:
        if self.delete:
            return {"filepath": self.path, "delete": True}
        content = base64.b64encode(self.content or b"").decode()
        return {"filepath": self.path, "content": content, "encoding": "base64", "mode": f"{self.mode:o}"}

    @property
    def parents(self) -> list[str]:
        """Every ancestor directory, outermost first (`a`, `a/b` for `a/b/c`)."""
        parts = self.path.split("/")[:-1]
        return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def normalise_path(raw: object) -> str:
    """Return the safe relative form of a change path, or raise naming what is wrong."""
    if not isinstance(raw, str):
        raise InvalidChangeError(f"filepath must be a string, got {type(raw).__name__}", path=repr(raw))
    if not raw:
        raise InvalidChangeError("filepath is empty", path=raw)
    if len(raw) > MAX_PATH_CHARS:
        raise InvalidChangeError(f"filepath is longer than {MAX_PATH_CHARS} characters", path=raw[:80] + "…")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise InvalidChangeError(f"filepath {raw!r} contains a NUL or control character", path=raw)
    if raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":"):
        raise InvalidChangeError(f"filepath {raw!r} is absolute; paths are relative to /workspace", path=raw)
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidChangeError(f"filepath {raw!r} contains '..'", path=raw)
    if not parts:
        raise InvalidChangeError(f"filepath {raw!r} names the workspace itself", path=raw)
    for part in parts:
        if len(part.encode()) > MAX_NAME_CHARS:
            raise InvalidChangeError(f"filepath {raw!r} has a name over {MAX_NAME_CHARS} bytes", path=raw)
    return posixpath.join(*parts)


def _parse_mode(raw: object, path: str) -> int:
    if raw is None:
        return 0o644
    try:
        mode = int(raw, 8) if isinstance(raw, str) else int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InvalidChangeError(f"mode {raw!r} of {path!r} is not an octal number", path=path) from None
    if mode & ~0o777:
        raise InvalidChangeError(
            f"mode {oct(mode)} of {path!r} sets setuid/setgid/sticky or type bits; only 0o777 bits are allowed",
            path=path,
        )
    return mode


def _content_bytes(change: Mapping[str, Any], path: str) -> bytes:
    content = change.get("content")
    if isinstance(content, bytes):
        return content
    if not isinstance(content, str):
        raise InvalidChangeError(f"change {path!r} needs 'content' (a string) or 'delete': true", path=path)
    encoding = change.get("encoding")
    if encoding not in (None, "utf-8", "base64"):
        raise InvalidChangeError(f"encoding {encoding!r} of {path!r} is not 'base64' or 'utf-8'", path=path)
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except binascii.Error:
            raise InvalidChangeError(f"content of {path!r} is not valid base64", path=path) from None
    return content.encode("utf-8", errors="surrogateescape")


def parse_change(change: object) -> dict[str, Any]:
    """The fields of a Change from one raw change mapping; raise InvalidChangeError naming what is wrong."""
    if not isinstance(change, Mapping):
        raise InvalidChangeError(f"each change must be an object, got {type(change).__name__}")
    unknown = set(change) - ALLOWED_KEYS
    raw_path = change.get("filepath", change.get("path"))
    if unknown:
        raise InvalidChangeError(f"change {raw_path!r} has unknown keys {sorted(unknown)}", path=str(raw_path))
    path = normalise_path(raw_path)
    if change.get("delete"):
        if change.get("content") is not None:
            raise InvalidChangeError(f"change {path!r} has both 'content' and 'delete'", path=path)
        return {"path": path, "delete": True}
    return {"path": path, "content": _content_bytes(change, path), "mode": _parse_mode(change.get("mode"), path)}


def as_change(change: object) -> Change:
    """A Change from its wire form (or itself); raise InvalidChangeError naming what is wrong."""
    return change if isinstance(change, Change) else Change.model_construct(**parse_change(change))


def validate_changes(changes: object, *, max_files: int, max_bytes: int) -> list[Change]:
    """Validate a whole batch (wire dicts or Changes); raise `InvalidChangeError` naming the first bad path."""
    if not isinstance(changes, Sequence) or isinstance(changes, str | bytes):
        raise InvalidChangeError("changes must be a list of {filepath, content | delete} objects")
    if len(changes) > max_files:
        raise InvalidChangeError(f"{len(changes)} changes exceed the cap of {max_files} files per batch")
    parsed = [as_change(c) for c in changes]
    check_batch(parsed)
    total = sum(len(c.content or b"") for c in parsed)
    if total > max_bytes:
        raise InvalidChangeError(f"changes total {total} bytes, over the cap of {max_bytes} bytes")
    return parsed


def check_batch(parsed: list[Change]) -> None:
    """The rules of a batch as a whole that need no settings: no path twice, none under a path the batch
    writes as a file or deletes, and a path check that fits the kernel's argument limit."""
    seen: set[str] = set()
    written = {c.path for c in parsed if not c.delete}
    deleted = {c.path for c in parsed if c.delete}
    for change in parsed:
        if change.path in seen:
            raise InvalidChangeError(f"filepath {change.path!r} appears twice in one batch", path=change.path)
        seen.add(change.path)
        for parent in change.parents:
            if parent in written:
                raise InvalidChangeError(
                    f"filepath {change.path!r} lies under {parent!r}, which the same batch writes as a file",
                    path=change.path,
                )
            if parent in deleted:
                raise InvalidChangeError(
                    f"filepath {change.path!r} lies under {parent!r}, which the same batch deletes",
                    path=change.path,
                )
    checked = {p for c in parsed for p in (*c.parents, c.path)}  # what the in-sandbox path check is given
    if sum(len(p) + 1 for p in checked) > MAX_ARGS_CHARS:
        raise InvalidChangeError(
            f"the batch's paths and their parent directories add up to over {MAX_ARGS_CHARS} characters"
        )
