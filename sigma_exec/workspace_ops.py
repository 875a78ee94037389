"""Applying a validated change batch inside a sandbox: check, then write, then delete."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from sigma_exec import commands
from sigma_exec import constants as c
from sigma_exec.archive import changes_tar
from sigma_exec.changes import Change, validate_changes
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import InvalidChangeError, SandboxError
from sigma_exec.models import ChangeResult
from sigma_exec.policy import path_hits
from sigma_exec.settings import Settings

MAX_TOUCHED = 20_000  # paths a batch reports as touched (what protected and read-only rules are checked on)
# A batch of writes up to this size travels in its exec's environment (DIRECT_WRITE), in variables of at most
# DIRECT_CHUNK characters: the kernel takes 128 KiB per string and about 2 MiB for arguments and environment.
DIRECT_MAX_BYTES = 512 * 1024
DIRECT_CHUNK = 96 * 1024
DIRECT_MAX_ARGS_CHARS = 256 * 1024
# A batch naming at most this many paths (files and their parents) is checked from the host, one engine stat a path
# (~2-3 ms each; an exec costs ~70 ms), and written with one put_archive.
STAT_MAX_PATHS = 12


def _inside(resolved: str) -> bool:
    return resolved == c.WORKSPACE_DIR or resolved.startswith(c.WORKSPACE_DIR + "/")


def check_resolved(batch: list[Change], asked: list[str], resolved: list[str], is_dir: list[bool]) -> list[str]:
    """Directories to create; raise naming the first path that leaves /workspace (pure)."""
    where = dict(zip(asked, zip(resolved, is_dir, strict=True), strict=True))
    missing: list[str] = []
    for change in batch:
        for parent in change.parents:
            real, exists_as_dir = where[parent]
            if not _inside(real):
                raise InvalidChangeError(
                    f"filepath {change.path!r} goes through {parent!r}, a link that leaves /workspace",
                    path=change.path,
                )
            if not exists_as_dir and parent not in missing:
                missing.append(parent)
        real, target_is_dir = where[change.path]
        if not _inside(real):
            raise InvalidChangeError(f"filepath {change.path!r} is a link that leaves /workspace", path=change.path)
        if target_is_dir and not change.delete:
            raise InvalidChangeError(f"filepath {change.path!r} is a directory in the workspace", path=change.path)
    return missing


def _resolve(engine: DockerBackend, container_id: str, asked: list[str], user: str) -> tuple[list[str], list[bool]]:
    """Resolve every path in the sandbox, as its user; name the path that cannot be (by bisection)."""
    resolvable, raw = _path_check(engine, container_id, asked, user)
    parsed = commands.parse_resolved(raw, asked) if resolvable else None
    if parsed is not None:
        return parsed
    if resolvable:
        raise SandboxError("the workspace path check gave an unreadable answer")
    while len(asked) > 1:  # some path did not resolve (a link loop): halve until it is named
        half = asked[: len(asked) // 2]
        asked = asked[len(asked) // 2 :] if _path_check(engine, container_id, half, user)[0] else half
    raise InvalidChangeError(f"filepath {asked[0]!r} cannot be resolved in the workspace (link loop?)", path=asked[0])


def _path_check(engine: DockerBackend, container_id: str, paths: list[str], user: str) -> tuple[bool, bytes]:
    """Run the in-sandbox path check: (every path resolved, its output); an engine failure raises."""
    code, raw = engine.exec_capture(
        container_id, commands.script(commands.RESOLVE_PATHS, *paths), user=user, cap_bytes=16 * 1024 * 1024
    )
    if code not in (0, commands.RESOLVE_UNRESOLVABLE):
        raise SandboxError(f"the workspace path check failed (exit code {code}); the sandbox may have stopped")
    return code == 0, raw


def _relative(resolved: str) -> str:
    return resolved[len(c.WORKSPACE_DIR) + 1 :] if resolved.startswith(c.WORKSPACE_DIR + "/") else ""


def _under_deleted_dirs(engine: DockerBackend, container_id: str, dirs: list[str], user: str) -> list[str]:
    """Files and directories under directories the batch deletes (bounded): a delete touches all of them."""
    if not dirs:
        return []
    code, out = engine.exec_capture(
        container_id, commands.script(commands.LIST_UNDER, *dirs), user=user, cap_bytes=8 * 1024 * 1024
    )
    if code not in (0, None):
        raise SandboxError(f"listing what the batch deletes failed (exit code {code})")
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p][:MAX_TOUCHED]


def touched_paths(
    batch: list[Change], asked: list[str], resolved: list[str], new_dirs: list[str], under_deleted: list[str]
) -> list[str]:
    """Every workspace path the batch changes (pure): its paths, the real paths behind links, the parents it
    creates or replaces (a file `pytest.ini` replaced by a directory), and everything under a deleted directory."""
    where = dict(zip(asked, resolved, strict=True))
    real = {_relative(where[p]) for p in [ch.path for ch in batch] + list(new_dirs)}
    found = {ch.path for ch in batch} | set(new_dirs) | (real - {""}) | set(under_deleted)
    return sorted(found)[:MAX_TOUCHED]


def _written(batch: list[Change], files: list[str], parents: list[str], new_dirs: list[str]) -> ChangeResult:
    asked = sorted({*files, *parents})
    lexical = [f"{c.WORKSPACE_DIR}/{p}" for p in asked]  # no link on the way: each path is itself
    touched = touched_paths(batch, asked, lexical, new_dirs, [])
    return ChangeResult(success=True, applied=files, deleted=[], touched=touched)


def _write_after_stats(
    engine: DockerBackend, container_id: str, batch: list[Change], files: list[str], parents: list[str]
) -> ChangeResult | None:
    """A small batch of plain writes, checked with the engine's stat of each path (outermost first) and written by
    one put_archive; None when it needs a closer look (a link or a non-directory on the way, a directory in the
    way): DIRECT_WRITE's rules. Nothing runs in a sandbox between two of its operations (each exec leaves no process
    behind, and the sandbox's lock is held), so nothing can swap a checked directory for a link meanwhile."""
    try:
        workspace = engine.stat_path(container_id, c.WORKSPACE_DIR)
        if workspace is None or workspace.is_link or not workspace.is_dir:
            return None
        new_dirs: list[str] = []
        for parent in parents:
            found = engine.stat_path(container_id, f"{c.WORKSPACE_DIR}/{parent}")
            if found is None:
                new_dirs.append(parent)
            elif found.is_link or not found.is_dir:
                return None
        for path in files:
            if any(path.startswith(d + "/") for d in new_dirs):
                continue  # under a directory the batch creates: nothing is there
            found = engine.stat_path(container_id, f"{c.WORKSPACE_DIR}/{path}")
            if found is not None and (found.is_link or found.is_dir):
                return None
    except SandboxError:
        return None  # the other ways decide (and report what the engine says)
    # new directories as entries of their own: the sandbox user's, as the engine would create them as root
    engine.put_archive(
        container_id, c.WORKSPACE_DIR, changes_tar(batch, new_dirs=new_dirs, uid=c.SANDBOX_UID, gid=c.SANDBOX_GID)
    )
    return _written(batch, files, parents, new_dirs)


def _write_directly(
    engine: DockerBackend, container_id: str, batch: list[Change], user: str, read_only: Sequence[str]
) -> ChangeResult | None:
    """Check and write a batch of plain writes with stats and one put_archive (a small batch) or in one exec; None
    when it needs the full check (links, deletes, directories in the way, a read-only rule that depends on which
    parents are new, a large batch)."""
    if any(ch.delete for ch in batch):
        return None
    files = [ch.path for ch in batch]
    parents = sorted({p for ch in batch for p in ch.parents}, key=lambda p: (p.count("/"), p))
    if path_hits(files + parents, [], read_only):  # a rule on a file, or on a parent that may be new
        return None  # the full check names the refused path
    if len(files) + len(parents) <= STAT_MAX_PATHS:
        return _write_after_stats(engine, container_id, batch, files, parents)
    if sum(len(p) + 1 for p in files + parents) > DIRECT_MAX_ARGS_CHARS:
        return None
    packed = changes_tar(batch, new_dirs=[], uid=c.SANDBOX_UID, gid=c.SANDBOX_GID)
    if len(packed) > DIRECT_MAX_BYTES:
        return None
    encoded = base64.b64encode(packed).decode()
    env = {f"SIGMA_PACK_{i}": encoded[k : k + DIRECT_CHUNK] for i, k in enumerate(range(0, len(encoded), DIRECT_CHUNK))}
    code, out = engine.exec_capture(
        container_id,
        commands.script(commands.DIRECT_WRITE, str(len(env)), str(len(parents)), *parents, *files),
        user=user,
        cap_bytes=len(parents) + 64,
        environment=env,
    )
    if code == commands.DIRECT_WRITE_NEEDS_CHECK:
        return None
    flags = out.strip()
    if code != 0 or len(flags) != len(parents) or flags.strip(b"01"):
        raise SandboxError(f"writing the changes failed (exit code {code}); the sandbox may have stopped")
    new_dirs = [p for p, flag in zip(parents, flags.decode(), strict=True) if flag == "0"]
    return _written(batch, files, parents, new_dirs)


def apply_change_batch(
    engine: DockerBackend,
    container_id: str,
    raw_changes: Any,
    settings: Settings,
    user: str,
    read_only: Sequence[str] = (),
) -> ChangeResult:
    """All of the batch or none of it: nothing is written before every path passed every rule."""
    try:
        batch = validate_changes(
            raw_changes, max_files=settings.MAX_CHANGE_FILES, max_bytes=settings.MAX_CHANGE_MB * 1024 * 1024
        )
        if not batch:
            return ChangeResult(success=True)
        direct = _write_directly(engine, container_id, batch, user, read_only)
        if direct is not None:
            return direct
        asked = sorted({p for ch in batch for p in (*ch.parents, ch.path)})
        resolved, is_dir = _resolve(engine, container_id, asked, user)
        new_dirs = check_resolved(batch, asked, resolved, is_dir)
        dirs = dict(zip(asked, is_dir, strict=True))
        deleted_dirs = [ch.path for ch in batch if ch.delete and dirs.get(ch.path)]
        under = _under_deleted_dirs(engine, container_id, deleted_dirs, user)
        touched = touched_paths(batch, asked, resolved, new_dirs, under)
        refused = path_hits(touched, deleted_dirs, read_only)
        if refused:
            raise InvalidChangeError(f"filepath {refused[0]!r} is read-only by this project's policy", path=refused[0])
    except InvalidChangeError as exc:
        return ChangeResult(success=False, error=str(exc), bad_path=exc.path, refused=True)
    writes = [ch for ch in batch if not ch.delete]
    deletes = [ch.path for ch in batch if ch.delete]
    if deletes:  # first: no write of the batch lies under a deleted path
        code, _ = engine.exec_capture(
            container_id, commands.script(commands.DELETE_PATHS, *deletes), user=user, cap_bytes=65536
        )
        if code not in (0, None):
            raise SandboxError(f"deleting {deletes[:5]} failed with exit code {code}")
    if writes:
        engine.put_archive(
            container_id,
            c.WORKSPACE_DIR,
            changes_tar(writes, new_dirs=new_dirs, uid=c.SANDBOX_UID, gid=c.SANDBOX_GID),
        )
    return ChangeResult(success=True, applied=[w.path for w in writes], deleted=deletes, touched=touched)
