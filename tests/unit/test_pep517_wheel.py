"""pep517-wheel.py (the image's direct wheel build in the build environment the dependency layer prepared): it
builds only for the build system and backend requirements that environment was made for (pure logic, a stand-in
backend on the host; the real one runs in tests/integration/test_dependency_layer.py)."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_exec.languages import resolve_language

SCRIPT = "/usr/share/sigma-exec/pep517-wheel.py"
BACKEND = """import os
WANTS = {wants!r}


def get_requires_for_build_wheel(config_settings=None):
    return list(WANTS)


def build_wheel(wheel_directory, config_settings=None):
    name = "demo-1.0-py3-none-any.whl"
    open(os.path.join(wheel_directory, name), "w").write("wheel")
    return name
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["demo-backend >= 1"]\nbuild-backend = "demo_backend"\nbackend-path = ["."]\n'
    )
    (tmp_path / "demo_backend.py").write_text(BACKEND.format(wants=["wheel"]))
    monkeypatch.chdir(tmp_path)
    saved = list(sys.path)
    yield tmp_path
    sys.path[:] = saved
    sys.modules.pop("demo_backend", None)


def _main(argv: list[str]) -> int:
    source = resolve_language("python").image.files[SCRIPT]
    module = types.ModuleType("pep517_wheel")
    exec(compile(source, SCRIPT, "exec"), module.__dict__)
    sys.modules.pop("demo_backend", None)  # each call is a fresh interpreter in the image
    return int(module.main(argv))


def test_it_builds_for_the_build_system_it_was_made_for(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["--requires"]) == 0
    assert capsys.readouterr().out.split() == ["demo-backend", ">=", "1"]
    assert _main(["--record", str(project / "made.json")]) == 0
    assert capsys.readouterr().out.strip() == "wheel"
    made = json.loads((project / "made.json").read_text())
    assert made == {
        "requires": ["demo-backend >= 1"],
        "build-backend": "demo_backend",
        "backend-path": ["."],
        "wheel-requires": ["wheel"],
    }
    assert _main(["--expect", str(project / "made.json"), str(project / "dist")]) == 0
    assert capsys.readouterr().out.strip() == "built demo-1.0-py3-none-any.whl"
    assert (project / "dist" / "demo-1.0-py3-none-any.whl").read_text() == "wheel"


def test_another_build_system_table_builds_nothing(project: Path) -> None:
    assert _main(["--record", str(project / "made.json")]) == 0
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace("demo-backend >= 1", "demo-backend >= 2"))
    assert _main(["--expect", str(project / "made.json"), str(project / "dist")]) == 3
    assert not (project / "dist").exists()


def test_other_backend_requirements_build_nothing(project: Path) -> None:
    assert _main(["--record", str(project / "made.json")]) == 0
    (project / "demo_backend.py").write_text(BACKEND.format(wants=["wheel", "cython"]))
    assert _main(["--expect", str(project / "made.json"), str(project / "dist")]) == 3
    assert not (project / "dist").exists()


def test_without_a_build_system_table_it_reads_pips_defaults(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    assert _main(["--requires"]) == 0
    assert capsys.readouterr().out.split() == ["setuptools>=40.8.0", "wheel"]


def test_an_unknown_request_is_refused(project: Path) -> None:
    assert _main(["--build"]) == 2
