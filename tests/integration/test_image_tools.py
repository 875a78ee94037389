"""The seed's lint and format tools run in real sandboxes of each base image, offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sigma_exec import DockerExecutor
from tests.conftest import SAMPLE

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# Unused import, a wrong return type, and a layout black would change.
LINT_ME_PY = "import os\n\ndef half(x: int) -> str:\n    return x//2\n"
TOOLS_DIR = "/opt/sigma-tools/python"


def test_pylint_flake8_black_and_mypy_run_as_python_modules_in_a_python_sandbox(
    executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(SAMPLE, "python")
    assert executor.apply_changes(cid, [{"filepath": "src/lint_me.py", "content": LINT_ME_PY}]).success

    pylint = executor.execute_in_container(cid, "python -m pylint src/")
    assert pylint.exit_code not in (0, None) and "W0611" in pylint.output, pylint.output
    flake8 = executor.execute_in_container(cid, "python -m flake8 src/")
    assert flake8.exit_code == 1 and "F401 'os' imported but unused" in flake8.output, flake8.output
    black = executor.execute_in_container(cid, "python -m black --check src/")
    assert black.exit_code == 1 and "would reformat" in black.output, black.output
    mypy = executor.execute_in_container(cid, "python -m mypy src/")
    assert mypy.exit_code == 1 and "Incompatible return value type" in mypy.output, mypy.output

    clean = executor.execute_in_container(cid, "python -m flake8 calc.py && python -m mypy calc.py")
    assert clean.success, clean.output
    # No cache (.mypy_cache, __pycache__) is left in the workspace.
    assert executor.execute_in_container(cid, "ls -A").output.split() == ["calc.py", "src", "tests"]


def test_an_isolated_venv_that_appends_the_tools_directory_runs_the_linters_but_cannot_import_pytest(
    executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(SAMPLE, "python")
    venv = executor.execute_in_container(
        cid,
        f"python3 -m venv /tmp/v && echo {TOOLS_DIR} > /tmp/v/lib/python3.11/site-packages/zz-sigma-tools.pth",
    )
    assert venv.success, venv.output

    for module in ("pylint", "flake8", "black", "mypy"):
        version = executor.execute_in_container(cid, f"/tmp/v/bin/python -m {module} --version")
        assert version.success, f"{module}: {version.output}"
    last = executor.execute_in_container(cid, "/tmp/v/bin/python -c 'import sys; print(sys.path[-1])'")
    assert last.output.strip() == TOOLS_DIR

    pytest = executor.execute_in_container(cid, "/tmp/v/bin/python -c 'import pytest'")
    assert pytest.exit_code == 1 and "ModuleNotFoundError: No module named 'pytest'" in pytest.output
    for name in ("_pytest", "pluggy", "coverage", "pytest_cov", "py", "iniconfig"):
        leaked = executor.execute_in_container(cid, f"/tmp/v/bin/python -c 'import {name}'")
        assert leaked.exit_code == 1, f"{name} is importable from {TOOLS_DIR}"
    # The tools still lint with the venv's interpreter.
    lint = executor.execute_in_container(cid, "/tmp/v/bin/python -m pylint --disable=all --enable=W0611 calc.py")
    assert lint.success and "10.00/10" in lint.output, lint.output


def test_eslint_lints_a_javascript_sandbox_offline(executor: DockerExecutor, sandbox: Callable[..., str]) -> None:
    cid = sandbox(SAMPLES / "js_calc", "javascript")
    version = executor.execute_in_container(cid, "eslint --version")
    assert version.success and version.output.strip().startswith("v"), version.output

    unused = {"filepath": "src/unused.js", "content": "'use strict';\n\nconst unused = 1;\n"}
    assert executor.apply_changes(cid, [unused]).success
    lint = executor.execute_in_container(
        cid, "eslint --no-eslintrc --env node,es2017 --rule 'no-unused-vars: error' src/"
    )
    assert lint.exit_code == 1, lint.output
    assert "src/unused.js" in lint.output and "no-unused-vars" in lint.output
    assert "calc.js" not in lint.output


def test_prettier_checks_and_formats_a_javascript_sandbox_offline(
    executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(SAMPLES / "js_calc", "javascript")
    version = executor.execute_in_container(cid, "prettier --version")
    assert version.success and version.output.strip() == "3.3.3", version.output
    ugly = {"filepath": "src/ugly.js", "content": "const  x =  {a:1,b:2}\n"}
    assert executor.apply_changes(cid, [ugly]).success
    check = executor.execute_in_container(cid, "prettier --check src/ugly.js")
    assert check.exit_code == 1 and "ugly.js" in check.output, check.output
    fixed = executor.execute_in_container(cid, "prettier --write src/ugly.js && cat src/ugly.js")
    assert fixed.success and "const x = { a: 1, b: 2 };" in fixed.output, fixed.output


def test_rubocop_bundler_and_rake_run_in_a_ruby_sandbox(executor: DockerExecutor, sandbox: Callable[..., str]) -> None:
    cid = sandbox(SAMPLES / "ruby_rspec", "ruby")
    for command in ("rubocop --version", "bundle --version", "rake --version"):
        version = executor.execute_in_container(cid, command)
        assert version.success, f"{command}: {version.output}"

    style = executor.execute_in_container(cid, "rubocop lib")  # the sample's `a, b` break a naming cop
    assert style.exit_code == 1 and "Naming/MethodParameterName" in style.output, style.output
    clean = executor.execute_in_container(cid, "rubocop --only Lint lib")
    assert clean.success and "no offenses detected" in clean.output, clean.output

    useless = {"filepath": "lib/useless.rb", "content": "# frozen_string_literal: true\n\ndef f\n  x = 1\nend\n"}
    assert executor.apply_changes(cid, [useless]).success
    lint = executor.execute_in_container(cid, "rubocop --only Lint --format simple lib")
    assert lint.exit_code == 1 and "Lint/UselessAssignment" in lint.output, lint.output
    # RuboCop's cache lives under the sandbox's HOME, never in the workspace.
    assert executor.execute_in_container(cid, "ls -A").output.split() == [".rspec", "Gemfile", "lib", "spec"]
