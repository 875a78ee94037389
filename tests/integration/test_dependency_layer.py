"""Project dependencies: fetched from the real registries on the host (no project code runs there),
installed offline in a build sandbox, cached as a layer; the test sandbox stays offline."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.deps.layer import layer_key
from sigma_exec.languages import resolve_language
from sigma_exec.pipeline import Proposal, run_pipeline
from tests.conftest import build_leftovers

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
INTERFACES = "tail -n +3 /proc/net/dev | cut -d: -f1"
NO_NETWORK = (
    "python3 -c \"import socket; s = socket.socket(); s.settimeout(3); s.connect(('127.0.0.1', 9))\" 2>&1; "
    + INTERFACES
)


def copy_sample(name: str, tmp_path: Path) -> Path:
    workspace = tmp_path / name
    shutil.copytree(SAMPLES / name, workspace)
    return workspace


def test_a_src_layout_project_with_pypi_dependencies_installs_itself_and_runs_offline(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    workspace = copy_sample("py_src_layout", tmp_path)
    created = executor.create_project_container(project_id, str(workspace), "python")
    assert created.success, created.error
    assert created.image and "python-deps:" in created.image
    tests = executor.run_tests(created.container_id, "python")
    assert (tests.tests_passed, tests.tests_failed, tests.tests_errored) == (2, 0, 0), tests.output
    assert tests.coverage_percent is not None and tests.coverage_percent > 50
    # The project's environment is its own: Debian's packages are not on its path.
    path = executor.execute_in_container(created.container_id, "python -c 'import sys; print(sys.path)'")
    assert "/workspace/src" in path.output and "dist-packages" not in path.output
    # The sandbox that runs the project's code has no network: only the loopback interface.
    offline = executor.execute_in_container(created.container_id, NO_NETWORK)
    assert offline.output.split()[-1] == "lo" and "Connection refused" in offline.output
    # The image's lint tools still run in the project's environment, as the seed's example does.
    lint = executor.execute_in_container(created.container_id, "python -m pylint --disable=all --enable=E src/")
    assert lint.success, lint.output
    build = executor.run_build(created.container_id, "python")
    assert build.success and "built clockpkg-0.3.0" in build.output, build.output
    assert build_leftovers(executor, project_id) == []


def test_a_second_create_of_an_unchanged_project_fetches_nothing(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    workspace = copy_sample("py_src_layout", tmp_path)
    first = executor.create_project_container(project_id, str(workspace), "python")
    assert first.success, first.error
    (workspace / "tests" / "test_more.py").write_text("def test_more():\n    assert True\n")  # code, not manifest
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.3.0"', 'version = "0.3.1"'))
    messages: list[str] = []
    second = executor.create_project_container(project_id, str(workspace), "python", progress=messages.append)
    assert second.success and second.image == first.image
    assert not any("fetching" in m for m in messages), messages


@pytest.mark.parametrize("sample", ["py_local_path", "py_deps"])
def test_local_path_packages_and_carried_wheels_install(
    sample: str, tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    workspace = copy_sample(sample, tmp_path)
    created = executor.create_project_container(project_id, str(workspace), "python")
    assert created.success, created.error
    tests = executor.run_tests(created.container_id, "python")
    assert (tests.tests_passed, tests.tests_failed) == (1, 0), tests.output


def test_the_layer_key_follows_what_the_manifests_declare(tmp_path: Path) -> None:
    profile, settings = resolve_language("python"), Settings()
    workspace = copy_sample("py_src_layout", tmp_path)
    before = layer_key(profile, settings, workspace, "base")
    (workspace / "src" / "clockpkg" / "more.py").write_text("x = 1\n")
    assert layer_key(profile, settings, workspace, "base") == before
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("freezegun==1.5.1", "freezegun==1.5.0"))
    assert layer_key(profile, settings, workspace, "base") != before
    assert layer_key(profile, settings, workspace, "other-base") != layer_key(profile, settings, workspace, "base")


def test_a_requirement_that_does_not_exist_is_a_clear_error_and_leaves_nothing_behind(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    name = f"sigma-no-such-package-{uuid.uuid4().hex[:8]}"
    (tmp_path / "requirements.txt").write_text(f"six==1.16.0\n{name}==1.0\nrequests==0.0.1\n")
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    stages_before = set(Path("/tmp").glob("sigma-exec-stage-*"))
    ok, container_id, error = executor.create_project_container(project_id, str(tmp_path), "python")
    assert (ok, container_id) == (False, None)
    assert error and f"{name}==1.0: not found on the index" in error
    assert "requests==0.0.1: no version matches" in error
    assert "six" not in error.replace("six==1.16.0", "")
    assert build_leftovers(executor, project_id) == []
    assert set(Path("/tmp").glob("sigma-exec-stage-*")) == stages_before


def test_best_effort_installs_what_can_be_had_and_warns_about_the_rest(
    tmp_path: Path, settings: Settings, project_id: str
) -> None:
    executor = DockerExecutor(settings.model_copy(update={"DEPS_BEST_EFFORT": True}))
    name = f"sigma-no-such-package-{uuid.uuid4().hex[:8]}"
    (tmp_path / "requirements.txt").write_text(f"six==1.16.0\n{name}\n")
    (tmp_path / "test_six.py").write_text("import six\n\ndef test_six():\n    assert six.PY3\n")
    created = executor.create_project_container(project_id, str(tmp_path), "python")
    assert created.success, created.error
    assert any(name in w and "not found on the index" in w for w in created.warnings), created.warnings
    tests = executor.run_tests(created.container_id, "python")
    assert (tests.tests_passed, tests.tests_failed) == (1, 0), tests.output
    again = executor.create_project_container(project_id, str(tmp_path), "python")
    assert again.image == created.image and again.warnings == created.warnings  # kept with the cached layer


def test_a_direct_url_requirement_is_refused_before_anything_is_fetched(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    (tmp_path / "requirements.txt").write_text("evil @ https://203.0.113.7/evil-1.0-py3-none-any.whl\n")
    result = executor.create_project_container(project_id, str(tmp_path), "python")
    assert not result.success and result.error and "direct URL requirements are not fetched" in result.error


def test_a_setup_py_runs_only_inside_the_offline_build_sandbox(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    marker = Path("/tmp") / f"sigma-hostile-{uuid.uuid4().hex}"
    (tmp_path / "setup.py").write_text(
        "import os, pathlib\nfrom setuptools import setup\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "nets = sorted(line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:])\n"
        "if os.access('/opt/venv', os.W_OK):  # the install, not the later build of the wheel\n"
        "    pathlib.Path('/opt/venv/build-saw-networks').write_text(','.join(nets))\n"
        "setup(name='hostile', version='1.0', py_modules=['hostile'])\n"
    )
    (tmp_path / "hostile.py").write_text("VALUE = 3\n")
    (tmp_path / "test_hostile.py").write_text("import hostile\n\ndef test_value():\n    assert hostile.VALUE == 3\n")
    created = executor.create_project_container(project_id, str(tmp_path), "python")
    assert created.success, created.error
    assert not marker.exists()  # setup.py never ran on the host
    saw = executor.execute_in_container(created.container_id, "cat /opt/venv/build-saw-networks")
    assert saw.output.strip() == "lo"  # and it ran in a sandbox whose only interface is loopback
    tests = executor.run_tests(created.container_id, "python")
    assert (tests.tests_passed, tests.tests_failed) == (1, 0), tests.output
    # A setup.py without pyproject.toml builds through PEP 517 with the fetched setuptools and wheel.
    build = executor.run_build(created.container_id, "python")
    assert build.success and "built hostile-1.0" in build.output, build.output


def test_an_npm_project_gets_its_package_json_dependencies(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    workspace = copy_sample("js_deps", tmp_path)
    created = executor.create_project_container(project_id, str(workspace), "javascript")
    assert created.success, created.error
    tests = executor.run_tests(created.container_id, "javascript")
    assert (tests.tests_passed, tests.tests_failed) == (2, 0), tests.output
    offline = executor.execute_in_container(created.container_id, INTERFACES)
    assert offline.output.split() == ["lo"]


def test_npm_install_scripts_run_offline_in_the_build_sandbox_never_on_the_host(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    marker = Path("/tmp") / f"sigma-hostile-npm-{uuid.uuid4().hex}"
    script = (
        f"require('fs').writeFileSync({json.dumps(str(marker))}, 'ran'); "
        "const nets = require('fs').readFileSync('/proc/net/dev', 'utf8').split('\\n').slice(2)"
        ".map(l => l.split(':')[0].trim()).filter(Boolean); "
        "require('fs').writeFileSync('saw-networks', nets.join(','))"
    )
    local = tmp_path / "local-pkg"
    local.mkdir()
    (local / "package.json").write_text(
        json.dumps({"name": "local-pkg", "version": "1.0.0", "scripts": {"install": f"node -e {json.dumps(script)}"}})
    )
    (local / "index.js").write_text("module.exports = 41;\n")
    (tmp_path / "package.json").write_text(
        json.dumps({"name": "h", "version": "1.0.0", "dependencies": {"local-pkg": "file:local-pkg"}})
    )
    (tmp_path / "x.test.js").write_text("test('local', () => { expect(require('local-pkg') + 1).toBe(42); });\n")
    created = executor.create_project_container(project_id, str(tmp_path), "javascript")
    assert created.success, created.error
    assert not marker.exists()
    saw = executor.execute_in_container(created.container_id, "cat /node_modules/local-pkg/saw-networks")
    assert saw.output.strip() == "lo", saw.output
    tests = executor.run_tests(created.container_id, "javascript")
    assert (tests.tests_passed, tests.tests_failed) == (1, 0), tests.output


def test_an_npm_dependency_that_does_not_exist_is_a_clear_error(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    name = f"sigma-no-such-package-{uuid.uuid4().hex[:8]}"
    (tmp_path / "package.json").write_text(
        json.dumps({"name": "x", "version": "1.0.0", "dependencies": {name: "1.0.0"}})
    )
    ok, container_id, error = executor.create_project_container(project_id, str(tmp_path), "javascript")
    assert (ok, container_id) == (False, None)
    assert error and name in error and "not found on the registry" in error, error
    assert build_leftovers(executor, project_id) == []


def test_a_proposal_whose_dependencies_cannot_be_had_ends_in_error_not_rejected(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    name = f"sigma-no-such-package-{uuid.uuid4().hex[:8]}"
    (tmp_path / "requirements.txt").write_text(f"{name}==2.0\n")
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    proposal = Proposal(
        proposal_id=f"deps-{uuid.uuid4().hex[:8]}", project_id=project_id, workspace=str(tmp_path), language="python"
    )
    outcome = run_pipeline(executor, proposal, Settings(SIGMA_NODE="test-node"))
    assert outcome.status == "error"
    assert outcome.error and name in outcome.error and "not found on the index" in outcome.error
    assert outcome.tests is None  # the proposal was never tested


def test_a_download_past_the_size_limit_is_stopped_and_named(
    tmp_path: Path, settings: Settings, project_id: str
) -> None:
    limited = settings.model_copy(update={"DEPS_MAX_MB": 1, "DEPS_CACHE_DIR": str(tmp_path / "wheels")})
    workspace = tmp_path / "big"
    workspace.mkdir()
    (workspace / "requirements.txt").write_text("Pygments==2.18.0\n")  # a wheel of about 1.2 MB
    ok, container_id, error = DockerExecutor(limited).create_project_container(project_id, str(workspace), "python")
    assert (ok, container_id) == (False, None)
    assert error and ("over the limit of 1 MiB" in error or "passed the limit of 1 MiB" in error), error


def test_a_requirement_that_publishes_only_a_source_distribution_is_built_offline_in_the_sandbox(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    # docopt 0.6.2 exists on PyPI as an sdist only: pip cannot fetch it without running its setup.py,
    # so its file comes from the index's simple API and pip builds it inside the offline install sandbox.
    (tmp_path / "requirements.txt").write_text("docopt==0.6.2\n")
    (tmp_path / "test_cli.py").write_text(
        "from docopt import docopt\n\n\ndef test_parse():\n"
        "    assert docopt('Usage: prog [--fast]', argv=['--fast']) == {'--fast': True}\n"
    )
    created = executor.create_project_container(project_id, str(tmp_path), "python")
    assert created.success, created.error
    assert any("docopt==0.6.2: no wheel published; built from its source distribution" in w for w in created.warnings)
    tests = executor.run_tests(created.container_id, "python")
    assert (tests.tests_passed, tests.tests_failed) == (1, 0), tests.output


def _build_src_layout(
    tmp_path: Path, executor: DockerExecutor, project_id: str, changes: list[dict[str, str]]
) -> tuple[str, str]:
    """py_src_layout's sandbox with `changes` applied, its wheel built: (the sandbox, the build's log)."""
    created = executor.create_project_container(project_id, str(copy_sample("py_src_layout", tmp_path)), "python")
    assert created.success, created.error
    cid = created.container_id or ""
    assert executor.apply_changes(cid, changes).success
    build = executor.run_build(cid, "python")
    assert build.success and "built clockpkg-0.3.0-py3-none-any.whl" in build.output, build.output
    return cid, executor.execute_in_container(cid, "cat /tmp/sigma-build/log").output


def test_the_wheel_builds_in_the_layers_build_environment_as_pip_builds_it(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    cid, log = _build_src_layout(tmp_path, executor, project_id, [])
    # built by the backend in the prepared environment (pip's isolated build logs its own steps)
    assert "Successfully built" not in log and "clockpkg" in log, log
    fast = executor.execute_in_container(cid, "cd /tmp/sigma-build/dist && python3 -m zipfile -l *.whl").output
    # pip's own isolated build of the same project gives a wheel of the same files
    pip_build = (
        "rm -rf /tmp/pip-build && cp -a /workspace /tmp/pip-build && cd /tmp/pip-build && "
        "SETUPTOOLS_SCM_PRETEND_VERSION=0.0.0 python3 -m pip wheel -q --use-pep517 --no-deps --no-index "
        "--find-links /opt/sigma-wheels --no-cache-dir -w /tmp/pip-dist . && "
        "cd /tmp/pip-dist && python3 -m zipfile -l *.whl"
    )
    isolated = executor.execute_in_container(cid, pip_build, timeout=300)
    assert isolated.success, isolated.output

    def names(listing: str) -> list[str]:
        return sorted(line.split()[0] for line in listing.splitlines()[1:] if line.strip())

    assert names(fast) == names(isolated.output) and "clockpkg/__init__.py" in names(fast)


def test_a_change_to_what_the_backend_needs_builds_as_pip_builds_it(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    # a setup.py beside pyproject.toml asks the backend for more: the prepared environment was not made for that
    setup = "from setuptools import setup\nsetup(setup_requires=['wheel'])\n"
    _, log = _build_src_layout(tmp_path, executor, project_id, [{"filepath": "setup.py", "content": setup}])
    assert "Successfully built" in log, log  # pip's isolated build decided
