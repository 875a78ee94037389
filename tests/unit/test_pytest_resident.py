"""When a run of pytest-coverage.py may hand itself over to the prepared sandbox's resident interpreter (pure
logic of the image's script, loaded from the language profile without running its main)."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from sigma_exec.languages import resolve_language

SCRIPT = "/usr/share/sigma-exec/pytest-coverage.py"


@pytest.fixture(scope="module")
def script() -> types.ModuleType:
    """The script as a module (its main does not run); it stands in for the resident that loaded it."""
    profile = resolve_language("python")
    source = profile.image.files[SCRIPT]
    module = types.ModuleType("pytest_coverage_script")
    module.__file__ = SCRIPT
    exec(compile(source, SCRIPT, "exec"), module.__dict__)
    return module


def _request(script: types.ModuleType, cwd: Path, **changes: object) -> dict[str, object]:
    request: dict[str, object] = {
        "executable": sys.executable,
        "argv0": os.path.abspath(script.__file__),
        "env": dict(os.environ),
        "cwd": str(cwd),
        "umask": 0o022,
        "report": "/tmp/r/coverage.json",
    }
    request.update(changes)
    return request


def test_a_run_like_the_resident_is_taken(script: types.ModuleType, tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "tests").mkdir()  # no __init__: a namespace directory never wins over a module found later
    (tmp_path / "site").mkdir()
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not importable
    env = {**os.environ, "COVERAGE_FILE": "/tmp/r/.coverage", "PYTEST_ADDOPTS": "--junitxml=/tmp/r/j.xml"}
    assert script.refusal(_request(script, tmp_path, env={**env, "PWD": "/elsewhere"})) is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PYTHONHASHSEED", "0"), ("PYTHONPATH", "/workspace/src"), ("LANG", "C.UTF-8x"), ("PATH", "/other/bin")],
)
def test_an_environment_read_at_start_up_that_differs_is_refused(
    script: types.ModuleType, tmp_path: Path, variable: str, value: str
) -> None:
    env = {**os.environ, variable: value}
    assert script.refusal(_request(script, tmp_path, env=env)) == "another start-up environment"


def test_coverage_process_start_is_read_at_start_up(script: types.ModuleType, tmp_path: Path) -> None:
    env = {**os.environ, "COVERAGE_PROCESS_START": "/workspace/.coveragerc"}
    assert script.refusal(_request(script, tmp_path, env=env)) == "another start-up environment"


def test_another_interpreter_or_script_is_refused(script: types.ModuleType, tmp_path: Path) -> None:
    assert script.refusal(_request(script, tmp_path, executable="/opt/venv/bin/python3")) is not None
    assert script.refusal(_request(script, tmp_path, argv0="/workspace/pytest-coverage.py")) is not None


@pytest.mark.parametrize("entry", ["json.py", "contextlib.pyc", "socket.cpython-311-x86_64-linux-gnu.so"])
def test_a_workspace_module_that_would_shadow_a_loaded_one_is_refused(
    script: types.ModuleType, tmp_path: Path, entry: str
) -> None:
    (tmp_path / entry).write_text("")
    assert script.refusal(_request(script, tmp_path)) == "the workspace could shadow an imported module"


def test_a_workspace_package_that_would_shadow_a_loaded_one_is_refused(
    script: types.ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "struct").mkdir()
    (tmp_path / "struct" / "__init__.py").write_text("")
    assert script.refusal(_request(script, tmp_path)) == "the workspace could shadow an imported module"


def test_a_module_loaded_from_the_workspace_is_refused(script: types.ModuleType, tmp_path: Path) -> None:
    (tmp_path / "sigma_probe_module.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        __import__("sigma_probe_module")
        assert script.refusal(_request(script, tmp_path)) is not None
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sigma_probe_module", None)


def test_start_up_environment_ignores_what_coverage_and_pytest_read_when_they_run(script: types.ModuleType) -> None:
    env = {"PATH": "/bin", "COVERAGE_FILE": "x", "PYTEST_ADDOPTS": "-q", "PWD": "/w", "PYTHONUNBUFFERED": "1"}
    assert script.startup_env(env) == {"PATH": "/bin", "PYTHONUNBUFFERED": "1"}
