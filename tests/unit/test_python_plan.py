"""Reading a Python project's manifests into a plan, without running any of its code (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_exec.deps.poetry import poetry_constraint, poetry_requirement
from sigma_exec.deps.python_plan import PythonPlan, plan_python
from sigma_exec.languages import resolve_language


def plan(root: Path) -> PythonPlan:
    spec = resolve_language("python").deps
    return plan_python(
        root, requirement_patterns=spec.requirement_files, test_groups=spec.test_groups, runner=["pytest"]
    )


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_pep621_dependencies_and_test_extras_are_read_with_self_references_expanded(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
[project]
name = "Attrs_Like"
version = "1"
dependencies = ["six>=1.16"]
[project.optional-dependencies]
tests-core = ["hypothesis==6.100.0"]
tests = ["attrs-like[tests-core]", "pretend"]
docs = ["sphinx"]
""",
        },
    )
    result = plan(tmp_path)
    assert result.requirements == ["six>=1.16", "hypothesis==6.100.0", "pretend", "pytest"]
    assert result.project_extras == ["tests", "tests-core"]
    assert result.install_project and result.build_requires == ["hatchling"]
    assert not result.setuptools_backend
    assert "sphinx" not in " ".join(result.requirements)


def test_dependency_groups_follow_include_group(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """
[dependency-groups]
lint = ["ruff"]
test = ["pytest>=8", {include-group = "coverage"}]
coverage = ["coverage[toml]"]
""",
        },
    )
    result = plan(tmp_path)
    assert result.requirements == ["pytest>=8", "coverage[toml]"]  # the runner's pytest is declared already
    assert not result.install_project


def test_setup_cfg_and_literal_setup_py_arguments_are_read_without_running_setup_py(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "setup.cfg": "[metadata]\nname = x\n[options]\ninstall_requires =\n    requests>=2\n    idna\n"
            "[options.extras_require]\ntesting =\n    freezegun\ndocs =\n    sphinx\n",
            "setup.py": f"import os\nBASE = ['click']\nopen({str(tmp_path / 'ran')!r}, 'w')\n"
            "setup(install_requires=BASE + ['rich'], extras_require={'test': ['pretend']}, tests_require=TESTS)\n",
        },
    )
    result = plan(tmp_path)
    assert set(result.requirements) == {"requests>=2", "idna", "click", "rich", "pretend", "freezegun", "pytest"}
    assert result.project_extras == ["test", "testing"]
    assert result.build_requires == ["setuptools>=40.8.0"] and result.setuptools_backend
    assert any("tests_require is computed" in note for note in result.notes)
    assert not (tmp_path / "ran").exists()


def test_requirement_files_follow_includes_skip_index_options_and_refuse_urls(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "-r requirements/base.txt\n--index-url https://evil.example/simple\n"
            "requests==2.32.3 --hash=sha256:abc  # pinned\n-e ./vendor/tiny\n",
            "requirements/base.txt": "idna>=3\n-c ../constraints.txt\n",
            "constraints.txt": "idna==3.7\n",
            "requirements/docs.txt": "sphinx\n",
            "requirements-test.txt": "git+https://github.com/x/y.git\nfoo @ https://example.com/foo.whl\n",
            "vendor/tiny/setup.py": "setup(install_requires=['attrs'])\n",
        },
    )
    result = plan(tmp_path)
    assert result.requirements[:3] == ["idna>=3", "requests==2.32.3", "attrs"]
    assert result.constraints == ["idna==3.7"]
    assert result.local_paths == ["vendor/tiny"] and result.editable_paths == ["vendor/tiny"]
    assert "sphinx" not in result.requirements
    assert any("--index-url ignored" in note for note in result.notes)
    assert len(result.problems) == 2 and all("direct URL" in p for p in result.problems)
    assert result.build_requires == ["setuptools>=40.8.0"]  # the local package's backend


def test_paths_outside_the_workspace_are_problems(tmp_path: Path) -> None:
    write(tmp_path / "p", {"requirements.txt": "../outside\n-r ../../etc/passwd\n/abs/path\n"})
    result = plan(tmp_path / "p")
    assert len(result.problems) == 3
    assert result.local_paths == []


def test_lock_files_pin_versions_as_constraints(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\nversion = "1"\ndependencies = ["Requests"]\n',
            "uv.lock": '[[package]]\nname = "requests"\nversion = "2.32.3"\n'
            '[[package]]\nname = "x"\nversion = "1"\nsource = { editable = "." }\n',
        },
    )
    assert plan(tmp_path).constraints == ["requests==2.32.3"]


def test_tox_deps_are_read_only_when_nothing_else_names_test_dependencies(tmp_path: Path) -> None:
    tox = "[testenv]\ndeps =\n    pytest-mock\n    py311: freezegun\n    -r{toxinidir}/dev.txt\n    {env:X}\n"
    write(tmp_path, {"tox.ini": tox, "dev.txt": "six\n", "requirements.txt": "idna\n"})
    assert plan(tmp_path).requirements == ["idna", "pytest-mock", "freezegun", "six", "pytest"]
    write(
        tmp_path, {"pyproject.toml": '[project]\nname = "x"\n[project.optional-dependencies]\ntest = ["hypothesis"]\n'}
    )
    assert "pytest-mock" not in plan(tmp_path).requirements


def test_poetry_tables_become_pep508(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """
[tool.poetry]
name = "p"
version = "1"
[tool.poetry.dependencies]
python = "^3.9"
requests = "^2.31"
rich = { version = "~13.7", extras = ["jupyter"], python = ">=3.10" }
[tool.poetry.group.test.dependencies]
pytest = ">=7,<9"
[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
""",
        },
    )
    result = plan(tmp_path)
    assert result.requirements == [
        "requests<3,>=2.31",
        'rich[jupyter]<13.8,>=13.7; python_version >= "3.10"',
        "pytest<9,>=7",
    ]
    assert result.install_project and result.build_requires == ["poetry-core"]


@pytest.mark.parametrize(
    ("spec", "pep440"),
    [("^1.2.3", ">=1.2.3,<2"), ("^0.2.3", ">=0.2.3,<0.3"), ("~1.2", ">=1.2,<1.3"), ("*", ""), ("1.2", "==1.2")],
)
def test_poetry_constraints(spec: str, pep440: str) -> None:
    assert poetry_constraint(spec) == pep440


def test_poetry_git_dependencies_are_refused() -> None:
    assert poetry_requirement("x", {"git": "https://example.com/x.git"})[1]


def test_a_project_without_manifests_needs_no_layer(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n", "test_x.py": ""})
    assert not plan(tmp_path).needs_layer


def test_hatch_test_environments_and_pdm_dev_dependencies_are_test_requirements(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """
[project]
name = "h"
version = "1"
[tool.hatch.envs.default]
dependencies = ["coverage[toml]>=6.5"]
[tool.hatch.envs.docs]
dependencies = ["sphinx"]
[tool.hatch.envs.hatch-test]
extra-dependencies = ["pytest-mock"]
[tool.pdm.dev-dependencies]
test = ["pretend", "-e file:///${PROJECT_ROOT}/#egg=h"]
lint = ["ruff"]
""",
        },
    )
    assert plan(tmp_path).requirements == ["coverage[toml]>=6.5", "pytest-mock", "pretend", "pytest"]


def test_a_noxfile_test_session_names_requirements_extras_and_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "n"\nversion = "1"\n[project.optional-dependencies]\nhttp = ["h11"]\n',
            "tests/requirements.txt": "pretend\n",
            "noxfile.py": "import nox\n\n@nox.session\ndef tests(session):\n"
            "    session.install('-r', 'tests/requirements.txt')\n    session.install('.[http]', 'freezegun')\n"
            "    session.run('pytest')\n\n@nox.session\ndef lint(session):\n    session.install('ruff')\n",
        },
    )
    result = plan(tmp_path)
    assert set(result.requirements) == {"pretend", "freezegun", "h11", "pytest"}
    assert result.project_extras == ["http"]
