"""Project dependencies are installed at image-build time, offline, and cached by manifest hash."""

from __future__ import annotations

import shutil
from pathlib import Path

from sigma_exec import DockerExecutor
from sigma_exec.images import collect_dependency_files, dependency_hash
from sigma_exec.languages import resolve_language

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "py_deps"


def test_a_local_wheel_dependency_is_installed_and_the_layer_is_reused(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    workspace = tmp_path / "proj"
    shutil.copytree(SAMPLE, workspace)
    built: list[str] = []
    first = executor.create_project_container(project_id, str(workspace), "python", progress=built.append)
    assert first.success, first.error
    assert first.image and "python-deps:" in first.image
    tests = executor.run_tests(first.container_id, "python")
    assert (tests.tests_passed, tests.tests_failed) == (1, 0), tests.output
    assert executor.execute_in_container(first.container_id, "pip download tinydep==9 -d /tmp/x").success is False

    (workspace / "tests" / "test_more.py").write_text("def test_more():\n    assert True\n")  # not a manifest
    again: list[str] = []
    second = executor.create_project_container(project_id, str(workspace), "python", progress=again.append)
    assert second.success and second.image == first.image
    assert not any("dependency layer" in msg for msg in again)  # no rebuild


def test_the_dependency_hash_follows_manifests_only(tmp_path: Path) -> None:
    profile = resolve_language("python")
    shutil.copytree(SAMPLE, tmp_path / "p")
    files = collect_dependency_files(tmp_path / "p", profile)
    assert sorted(files) == ["requirements.txt", "wheels/tinydep-1.2.3-py3-none-any.whl"]
    before = dependency_hash("base", profile, files)
    (tmp_path / "p" / "code.py").write_text("x = 1\n")
    assert dependency_hash("base", profile, collect_dependency_files(tmp_path / "p", profile)) == before
    (tmp_path / "p" / "requirements.txt").write_text("tinydep>=1\n")
    assert dependency_hash("base", profile, collect_dependency_files(tmp_path / "p", profile)) != before


def test_a_pyproject_without_requirements_needs_no_dependency_layer(tmp_path: Path) -> None:
    profile = resolve_language("python")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n[tool.pytest.ini_options]\n')
    (tmp_path / "wheels").mkdir()
    assert collect_dependency_files(tmp_path, profile) == {}


def test_a_pyproject_version_bump_keeps_the_dependency_layer(tmp_path: Path) -> None:
    profile = resolve_language("python")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\nversion = "1"\ndependencies = ["tinydep==1.2.3"]\n')
    before = dependency_hash("base", profile, collect_dependency_files(tmp_path, profile))
    pyproject.write_text('[project]\nname = "x"\nversion = "2"\ndependencies = ["tinydep==1.2.3"]\n[tool.x]\na = 1\n')
    assert dependency_hash("base", profile, collect_dependency_files(tmp_path, profile)) == before
    pyproject.write_text('[project]\nname = "x"\nversion = "2"\ndependencies = ["tinydep>=1"]\n')
    assert dependency_hash("base", profile, collect_dependency_files(tmp_path, profile)) != before
