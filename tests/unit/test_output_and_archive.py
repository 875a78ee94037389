"""Bounded output and in-memory tar streams (pure, no Docker)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from sigma_exec.archive import changes_tar, content_digest, read_regular_files, workspace_tar
from sigma_exec.changes import validate_changes
from sigma_exec.errors import WorkspaceError
from sigma_exec.output import BoundedOutput


def test_bounded_output_keeps_head_and_tail_within_the_cap() -> None:
    out = BoundedOutput(100)
    for i in range(1000):
        out.write(f"line{i:04d}\n".encode())
    assert out.truncated
    assert out.kept_bytes() <= 100
    text = out.text()
    assert text.startswith("line0000")
    assert text.rstrip().endswith("line0999")
    assert "bytes cut" in text


def test_bounded_output_decodes_invalid_utf8_and_strips_ansi() -> None:
    out = BoundedOutput(1000)
    out.write(b"\x1b[31mred\x1b[0m \xff\xfe ok")
    assert out.text() == "red \ufffd\ufffd ok"
    assert not out.truncated


def test_bounded_output_handles_one_huge_chunk() -> None:
    out = BoundedOutput(64)
    out.write(b"a" * 10_000 + b"END")
    assert out.total == 10_003
    assert out.kept_bytes() == 64
    assert out.text().endswith("END")


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_workspace_tar_keeps_symlinks_as_links_and_never_reads_their_target(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("HOST SECRET")
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "mod.py").write_text("x = 1\n")
    os.symlink(secret, ws / "leak.txt")
    os.symlink("/etc", ws / "etc-link")
    os.chmod(ws / "pkg" / "mod.py", 0o4755)
    data = workspace_tar(ws, uid=1000, gid=1000, max_bytes=1 << 20)
    members = _members(data)
    assert members["leak.txt"].issym() and members["leak.txt"].linkname == str(secret)
    assert members["etc-link"].issym()
    assert b"HOST SECRET" not in data
    mod = members["pkg/mod.py"]
    assert (mod.uid, mod.gid, mod.mode) == (1000, 1000, 0o755)  # setuid bit stripped


def test_workspace_tar_enforces_its_size_cap(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 5000)
    with pytest.raises(WorkspaceError, match="cap of 1000 bytes"):
        workspace_tar(tmp_path, uid=1000, gid=1000, max_bytes=1000)


def test_workspace_tar_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="does not exist"):
        workspace_tar(tmp_path / "nope", uid=1000, gid=1000, max_bytes=1000)


def test_changes_tar_has_owned_entries_and_only_missing_directories() -> None:
    batch = validate_changes(
        [{"filepath": "a/b/c.py", "content": "1"}, {"filepath": "gone", "delete": True}], max_files=10, max_bytes=100
    )
    members = _members(changes_tar(batch, new_dirs=["a/b", "a"], uid=1000, gid=1000))
    assert list(members) == ["a", "a/b", "a/b/c.py"]
    assert all(m.uid == 1000 for m in members.values())


def _tar(entries: list[tarfile.TarInfo], payloads: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info in entries:
            tar.addfile(info, io.BytesIO(payloads[info.name]) if info.name in payloads else None)
    return buf.getvalue()


def test_read_regular_files_drops_links_devices_and_overflow() -> None:
    link = tarfile.TarInfo("junit.xml")
    link.type, link.linkname = tarfile.SYMTYPE, "/proc/1/environ"
    dev = tarfile.TarInfo("dev")
    dev.type = tarfile.CHRTYPE
    big = tarfile.TarInfo("big.json")
    big.size = 500
    ok = tarfile.TarInfo("./ok.json")
    ok.size = 2
    data = _tar([link, dev, big, ok], {"big.json": b"x" * 500, "./ok.json": b"{}"})
    assert read_regular_files(data, max_bytes=100, max_entries=10) == {"ok.json": b"{}"}


def test_read_regular_files_survives_garbage_and_truncation() -> None:
    assert read_regular_files(b"not a tar at all" * 100, max_bytes=100, max_entries=10) == {}
    ok = tarfile.TarInfo("a")
    ok.size = 3
    data = _tar([ok], {"a": b"abc"})
    assert read_regular_files(data[:700], max_bytes=100, max_entries=10) == {"a": b"abc"}


def test_workspace_tar_counts_headers_against_its_cap(tmp_path: Path) -> None:
    for i in range(3000):  # no file bytes at all: ~1.5 MB of tar headers
        (tmp_path / f"f{i}").touch()
    with pytest.raises(WorkspaceError, match="larger than the cap"):
        workspace_tar(tmp_path, uid=1000, gid=1000, max_bytes=1 << 20)
    assert len(workspace_tar(tmp_path, uid=1000, gid=1000, max_bytes=4 << 20)) <= 4 << 20


def test_an_unreadable_workspace_is_a_workspace_error_not_an_os_error() -> None:
    with pytest.raises(WorkspaceError, match="cannot read workspace '/proc/self'"):
        workspace_tar("/proc/self", uid=1000, gid=1000, max_bytes=1 << 20)


def test_content_digest_ignores_timestamps_but_not_content(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    first = content_digest(workspace_tar(tmp_path, uid=1000, gid=1000, max_bytes=1 << 20))
    os.utime(tmp_path / "a.py", (1_700_000_000, 1_700_000_000))
    assert content_digest(workspace_tar(tmp_path, uid=1000, gid=1000, max_bytes=1 << 20)) == first
    (tmp_path / "a.py").write_text("x = 2\n")
    assert content_digest(workspace_tar(tmp_path, uid=1000, gid=1000, max_bytes=1 << 20)) != first
