"""Apply → test → build → apply → test in one sandbox: every step sees the applied content (Python)."""

from __future__ import annotations

from pathlib import Path

from sigma_exec import DockerExecutor


def test_a_same_size_edit_after_a_build_is_what_the_next_test_run_imports(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    (tmp_path / "mod.py").write_text("def f():\n    return 1 + 1\n")
    (tmp_path / "test_mod.py").write_text("from mod import f\n\n\ndef test_f():\n    assert f() == 2\n")
    ok, cid, error = executor.create_project_container(project_id, str(tmp_path), "python")
    assert ok and cid, error
    assert executor.run_tests(cid, "python").tests_passed == 1
    assert executor.run_build(cid, "python").success  # writes bytecode for every file
    same_size = {"filepath": "mod.py", "content": "def f():\n    return 1 - 1\n"}
    assert executor.apply_changes(cid, [same_size]).success
    after = executor.run_tests(cid, "python")
    assert (after.tests_passed, after.tests_failed) == (0, 1), after.output


def test_a_syntax_error_applied_after_a_build_fails_the_next_build(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "stock.py").write_text("X = 1\n")
    ok, cid, error = executor.create_project_container(project_id, str(tmp_path), "python")
    assert ok and cid, error
    assert executor.run_build(cid, "python").success
    assert executor.apply_changes(cid, [{"filepath": "inventory/stock.py", "content": "def broken(:\n"}]).success
    build = executor.run_build(cid, "python")
    assert not build.success and "inventory/stock.py" in build.output, build.output
