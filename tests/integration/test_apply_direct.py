"""A small batch of plain writes is checked with the engine's stat of each path and written by one put_archive; a
larger one is checked and written in one exec (DIRECT_WRITE); anything the check must look at closer (a link, a
delete, a directory in the way, a large batch, a read-only rule that depends on which parents are new) goes the full
way: resolve in the sandbox, then write. All give the same result."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sigma_exec import DockerExecutor, Settings, commands
from sigma_exec import constants as c
from sigma_exec.workspace_ops import DIRECT_MAX_BYTES, STAT_MAX_PATHS

pytestmark = pytest.mark.docker


@pytest.fixture
def calls(executor: DockerExecutor, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each apply asked the engine: 'direct', 'resolve', 'put_archive', or another exec."""
    assert executor.backend is not None
    seen: list[str] = []
    backend = executor.backend
    real_capture, real_put = backend.exec_capture, backend.put_archive

    def capture(container_id: str, argv: list[str], **kwargs: Any) -> tuple[int | None, bytes]:
        names = {commands.DIRECT_WRITE: "direct", commands.RESOLVE_PATHS: "resolve"}
        seen.append(next((n for body, n in names.items() if body in argv), "exec"))
        return real_capture(container_id, argv, **kwargs)

    def put(container_id: str, path: str, data: bytes) -> None:
        seen.append("put_archive")
        real_put(container_id, path, data)

    monkeypatch.setattr(backend, "exec_capture", capture)
    monkeypatch.setattr(backend, "put_archive", put)
    return seen


@pytest.fixture
def box(sandbox: Callable[..., str], tmp_path: Path) -> str:
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "a.py").write_text("A = 1\n")
    (ws / "pkg" / "other.py").write_text("OTHER = 1\n")
    (ws / "data.txt").write_text("old\n")
    (ws / "inside").symlink_to("pkg")
    (ws / "outside").symlink_to("/tmp")
    (ws / "pkg" / "up").symlink_to("/tmp")  # a link deeper down
    return sandbox(ws, "python")


def _show(executor: DockerExecutor, cid: str, script: str) -> str:
    result = executor.execute_in_container(cid, script)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("padding", [0, STAT_MAX_PATHS], ids=["stats-then-put-archive", "one-exec"])
def test_plain_writes_are_checked_and_written_without_a_resolve(
    executor: DockerExecutor, box: str, calls: list[str], padding: int
) -> None:
    changes = [
        {"filepath": "pkg/a.py", "content": "A = 2\n"},
        {"filepath": "new/deep/tool.sh", "content": "#!/bin/sh\necho hi\n", "mode": "755"},
        {"filepath": "data.txt", "content": "new\n"},
    ]
    extra = [{"filepath": f"pad/p{i}.txt", "content": f"{i}\n"} for i in range(padding)]

    result = executor.apply_changes(box, changes + extra)

    assert result.success, result.error
    assert calls == (["put_archive"] if not padding else ["direct"])
    applied, touched = ([p for p in paths if not p.startswith("pad")] for paths in (result.applied, result.touched))
    assert applied == ["pkg/a.py", "new/deep/tool.sh", "data.txt"]
    # the parents it created count as touched, as on the full way
    assert touched == ["data.txt", "new", "new/deep", "new/deep/tool.sh", "pkg/a.py"]
    out = _show(
        executor,
        box,
        "cat pkg/a.py data.txt; new/deep/tool.sh; stat -c '%n %a %u' new new/deep new/deep/tool.sh pkg/a.py",
    )
    assert out.splitlines() == [
        "A = 2",
        "new",
        "hi",
        f"new 755 {c.SANDBOX_UID}",
        f"new/deep 755 {c.SANDBOX_UID}",
        f"new/deep/tool.sh 755 {c.SANDBOX_UID}",
        f"pkg/a.py 644 {c.SANDBOX_UID}",
    ]


def test_a_file_replaced_keeps_a_hard_link_s_other_name_as_it_was(
    executor: DockerExecutor, box: str, calls: list[str]
) -> None:
    _show(executor, box, "ln pkg/other.py pkg/alias.py")

    result = executor.apply_changes(box, [{"filepath": "pkg/alias.py", "content": "ALIAS = 2\n"}])

    assert result.success and calls == ["put_archive"]
    assert _show(executor, box, "cat pkg/other.py pkg/alias.py") == "OTHER = 1\nALIAS = 2\n"


@pytest.mark.parametrize(
    ("changes", "ok", "written"),
    [
        # a link inside the workspace: written where it leads (the full check resolves it)
        ([{"filepath": "inside/b.py", "content": "B = 1\n"}], True, "pkg/b.py"),
        # a link that leaves the workspace: refused, nothing written
        ([{"filepath": "outside/x.py", "content": "X = 1\n"}], False, None),
        # a link that leaves the workspace, deeper down: refused
        ([{"filepath": "pkg/up/x.py", "content": "X = 1\n"}], False, None),
        # the file itself a link that leaves the workspace: refused
        ([{"filepath": "outside", "content": "X = 1\n"}], False, None),
        # a directory where the file would go: refused
        ([{"filepath": "pkg", "content": "x\n"}], False, None),
        # a file where a parent directory would go: replaced by the directory (the full way's rule)
        ([{"filepath": "data.txt/x.py", "content": "X = 1\n"}], True, "data.txt/x.py"),
        # a delete in the batch
        (
            [{"filepath": "pkg/other.py", "delete": True}, {"filepath": "pkg/c.py", "content": "C = 1\n"}],
            True,
            "pkg/c.py",
        ),
    ],
    ids=[
        "link-inside",
        "link-outside",
        "deeper-link-outside",
        "file-is-a-link-outside",
        "directory-in-the-way",
        "file-in-the-way",
        "with-a-delete",
    ],
)
def test_what_needs_a_closer_look_goes_the_full_way(
    executor: DockerExecutor, box: str, calls: list[str], changes: list[dict[str, Any]], ok: bool, written: str | None
) -> None:
    result = executor.apply_changes(box, changes)

    assert result.success is ok, result.error
    assert "resolve" in calls
    if written:
        assert _show(executor, box, f"test -f {written} && echo yes") == "yes\n"
    else:
        assert result.refused and "put_archive" not in calls
        assert _show(executor, box, "ls /tmp/x.py 2>/dev/null; cat pkg/a.py") == "A = 1\n"


@pytest.mark.parametrize("padding", [0, STAT_MAX_PATHS], ids=["few-paths", "many-paths"])
def test_a_large_batch_of_many_paths_goes_the_full_way(
    executor: DockerExecutor, box: str, calls: list[str], padding: int
) -> None:
    # Too large for an exec's environment: written by put_archive, after stats when it names few paths.
    big = "x" * (DIRECT_MAX_BYTES + 1)
    extra = [{"filepath": f"pad/p{i}.txt", "content": f"{i}\n"} for i in range(padding)]

    result = executor.apply_changes(box, [{"filepath": "big.txt", "content": big}, *extra])

    assert result.success, result.error
    assert calls == (["put_archive"] if not padding else ["resolve", "put_archive"])
    assert _show(executor, box, "wc -c < big.txt").strip() == str(len(big))


@pytest.fixture
def policy_box(executor: DockerExecutor, tmp_path: Path) -> Iterator[tuple[DockerExecutor, str]]:
    policies = tmp_path / "policies"
    (policies / "projects").mkdir(parents=True)
    (policies / "policy.toml").write_text('[paths]\nread_only = ["gen"]\n')
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("A = 1\n")
    guarded = DockerExecutor(Settings(SIGMA_NODE="test-node", POLICY_DIR=str(policies), POOL_SIZE=0))
    project = f"t-{uuid.uuid4().hex[:10]}"
    created = guarded.create_project_container(project, str(ws), "python")
    assert created.success, created.error
    yield guarded, str(created.container_id)
    guarded.cleanup_project(project)
    guarded.close()


def test_a_read_only_rule_on_a_parent_it_would_create_is_decided_the_full_way(
    policy_box: tuple[DockerExecutor, str],
) -> None:
    guarded, cid = policy_box
    # `gen` is read-only: creating it (as the parent of a new file) touches it
    refused = guarded.apply_changes(cid, [{"filepath": "gen/out.py", "content": "X = 1\n"}])
    assert refused.refused and refused.bad_path == "gen", refused
    allowed = guarded.apply_changes(cid, [{"filepath": "a.py", "content": "A = 2\n"}])
    assert allowed.success, allowed.error
