"""Tar streams in and out of a sandbox, built and read in memory (no host extraction).

Copy-in: regular files, directories and symlinks only, owned by the sandbox user,
permission bits only (no setuid). Symlinks are stored as links and never followed
on the host. Copy-out: only regular files, capped in bytes and entries.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path

from sigma_exec.changes import Change
from sigma_exec.errors import WorkspaceError

DEFAULT_EXCLUDES = frozenset({".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv"})


ZIP_EPOCH = 315_532_800  # 1980-01-01: wheel and zip builders refuse anything older


def _info(
    name: str, *, uid: int, gid: int, mode: int, kind: bytes = tarfile.REGTYPE, mtime: float | None = None
) -> tarfile.TarInfo:
    """A tar entry; without `mtime` it is stamped now, so that a written change is always newer than before."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.uid, info.gid = uid, gid
    info.uname = info.gname = ""
    info.mode = mode & 0o777
    # Now to the microsecond (a PAX header): a cache that trusts (mtime, size) must see a same-size
    # edit made within the same second as the file it cached as changed.
    info.mtime = time.time() if mtime is None else int(mtime)
    return info


def _read_regular(path: str, limit: int) -> bytes:
    """Read a host file without following a symlink swapped in since the walk."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise WorkspaceError(f"{path!r} stopped being a regular file while it was read")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise WorkspaceError(f"workspace is larger than the cap of {limit} bytes (at {path!r})")
    return data


class _Budget:
    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes
        self.cap = max_bytes

    def take(self, n: int, where: str) -> None:
        self.left -= n
        if self.left < 0:
            self.exceeded(where)

    def exceeded(self, where: str) -> None:
        raise WorkspaceError(
            f"workspace is larger than the cap of {self.cap} bytes (at {where!r}); raise MAX_WORKSPACE_MB"
        )


def _add_entry(
    tar: tarfile.TarFile, root: str, rel: str, *, uid: int, gid: int, budget: _Budget, keep_mtime: bool
) -> None:
    full = os.path.join(root, rel)
    st = os.lstat(full)
    mtime = max(st.st_mtime, ZIP_EPOCH) if keep_mtime else 0
    if stat.S_ISLNK(st.st_mode):
        info = _info(rel, uid=uid, gid=gid, mode=0o777, kind=tarfile.SYMTYPE, mtime=mtime)
        info.linkname = os.readlink(full)
        tar.addfile(info)
    elif stat.S_ISDIR(st.st_mode):
        mode = (st.st_mode & 0o777) | 0o700
        tar.addfile(_info(rel, uid=uid, gid=gid, mode=mode, kind=tarfile.DIRTYPE, mtime=mtime))
    elif stat.S_ISREG(st.st_mode):
        budget.take(st.st_size, rel)
        data = _read_regular(full, budget.left + st.st_size)
        info = _info(rel, uid=uid, gid=gid, mode=(st.st_mode & 0o777) | 0o600, mtime=mtime)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    # sockets, fifos and devices are left out on purpose


def workspace_tar(
    workspace: str | Path,
    *,
    uid: int,
    gid: int,
    max_bytes: int,
    excludes: Iterable[str] = DEFAULT_EXCLUDES,
    keep_mtime: bool = True,
) -> bytes:
    """Pack a host directory as an uncompressed tar, links kept as links.

    Modification times are kept (raised to 1980 at least, which zip-based builds need); `keep_mtime=False`
    stamps 0 everywhere, for a tar whose bytes must depend on content only (a build-context hash).
    """
    root = os.fspath(workspace)
    if not os.path.isdir(root):
        raise WorkspaceError(f"workspace {root!r} does not exist or is not a directory")
    skip = frozenset(excludes)
    buf = io.BytesIO()
    budget = _Budget(max_bytes)
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        try:
            for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=_raise):
                dirnames[:] = sorted(d for d in dirnames if d not in skip)
                rel_dir = os.path.relpath(dirpath, root)
                for name in [*dirnames, *sorted(filenames)]:
                    rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                    budget.left = max_bytes - tar.offset  # headers and padding count, not only file bytes
                    _add_entry(tar, root, rel, uid=uid, gid=gid, budget=budget, keep_mtime=keep_mtime)
                    if tar.offset > max_bytes:
                        budget.exceeded(rel)
        except OSError as exc:
            raise WorkspaceError(f"cannot read workspace {root!r}: {exc.strerror or exc} ({exc.filename})") from exc
    return buf.getvalue()


def _raise(exc: OSError) -> None:
    raise exc


def content_digest(data: bytes) -> str:
    """sha256 over a tar's names, kinds, modes, link targets and file contents; never its timestamps."""
    digest = hashlib.sha256()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            digest.update(
                f"{member.name}\0{member.type!r}\0{member.mode:o}\0{member.linkname}\0{member.size}\0".encode()
            )
            handle = tar.extractfile(member) if member.isreg() else None
            while handle is not None and (block := handle.read(1 << 20)):
                digest.update(block)
    return digest.hexdigest()


def changes_tar(changes: Iterable[Change], *, new_dirs: Iterable[str], uid: int, gid: int) -> bytes:
    """Pack the written files of a validated batch, plus entries for directories still missing."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in sorted(set(new_dirs), key=lambda d: d.count("/")):
            tar.addfile(_info(directory, uid=uid, gid=gid, mode=0o755, kind=tarfile.DIRTYPE))
        for change in changes:
            if change.delete or change.content is None:
                continue
            info = _info(change.path, uid=uid, gid=gid, mode=change.mode)
            info.size = len(change.content)
            tar.addfile(info, io.BytesIO(change.content))
    return buf.getvalue()


def read_regular_files(data: bytes, *, max_bytes: int, max_entries: int) -> dict[str, bytes]:
    """Regular files of an untrusted tar stream, by name; links, devices and overflow are dropped."""
    files: dict[str, bytes] = {}
    used = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for count, member in enumerate(tar):
                if count >= max_entries:
                    break
                if not member.isreg() or member.size > max_bytes - used:
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                content = handle.read(member.size)
                used += len(content)
                files[member.name.removeprefix("./")] = content
    except (tarfile.TarError, EOFError, OSError):
        pass  # a truncated stream keeps what was read before the cut
    return files
