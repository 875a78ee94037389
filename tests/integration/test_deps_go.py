"""Go modules from the operator's module proxy (one the test serves on 127.0.0.1), checked against go.sum on the
host, installed offline into the layer's module cache; the test sandbox stays offline."""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.deps.go_fetcher import GoModule, escape_path, go_mod_hash, zip_hash
from tests.conftest import build_leftovers
from tests.integration.loopback_http import FolderSource

INTERFACES = "tail -n +3 /proc/net/dev | cut -d: -f1"
GREET = GoModule(path="example.com/Greet", version="v1.0.0")  # an uppercase letter: the proxy path is escaped
WORDS = GoModule(path="example.com/words", version="v0.3.0")  # what GREET itself needs
WORDS_FILES = {
    "go.mod": "module example.com/words\n\ngo 1.21\n",
    "words.go": 'package words\n\n// Hello is a greeting.\nconst Hello = "hi"\n',
}


class ModuleProxy(FolderSource):
    """A GOPROXY file layout served over HTTP on 127.0.0.1; it remembers what was asked of it."""

    def publish(self, module: GoModule, files: dict[str, str]) -> tuple[str, str]:
        """Put a module on the proxy; return its go.sum lines (zip, go.mod)."""
        folder = self.root / escape_path(module.path) / "@v"
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(folder / f"{module.version}.zip", "w") as archive:
            for name, text in files.items():
                archive.writestr(f"{module}/{name}", text)
        (folder / f"{module.version}.mod").write_text(files["go.mod"])
        (folder / f"{module.version}.info").write_text(f'{{"Version":"{module.version}"}}')
        zip_line = f"{module.path} {module.version} {zip_hash(folder / f'{module.version}.zip', module)}"
        return zip_line, f"{module.path} {module.version}/go.mod {go_mod_hash(files['go.mod'].encode())}"


@pytest.fixture
def module_proxy(tmp_path: Path) -> Iterator[ModuleProxy]:
    with ModuleProxy(tmp_path / "proxy").serving() as proxy:
        yield proxy


def greet_files(marker: str, uses_words: bool = False) -> dict[str, str]:
    # The marker makes each run's module (and so its go.sum and layer) new: the first create really fetches.
    if not uses_words:
        return {
            "go.mod": "module example.com/Greet\n\ngo 1.21\n",
            "greet.go": f'package greet\n\nconst Build = "{marker}"\n\n'
            'func Hi(name string) string { return "hi " + name }\n',
        }
    return {
        "go.mod": f"module example.com/Greet\n\ngo 1.21\n\nrequire {WORDS.path} {WORDS.version}\n",
        "greet.go": f'package greet\n\nimport "example.com/words"\n\nconst Build = "{marker}"\n\n'
        'func Hi(name string) string { return words.Hello + " " + name }\n',
    }


def go_project(root: Path, requires: list[GoModule], go_sum: list[str] | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"\t{m.path} {m.version}\n" for m in requires)
    (root / "go.mod").write_text(f"module example.com/app\n\ngo 1.23\n\nrequire (\n{lines})\n")
    if go_sum is not None:
        (root / "go.sum").write_text("".join(f"{line}\n" for line in go_sum))
    (root / "app.go").write_text(
        'package app\n\nimport "example.com/Greet"\n\nfunc Hello() string { return greet.Hi("go") }\n'
    )
    (root / "app_test.go").write_text(
        'package app\n\nimport (\n\t"testing"\n\n\t"example.com/Greet"\n)\n\n'
        'func TestHello(t *testing.T) {\n\tif Hello() != "hi go" {\n\t\tt.Fatal(Hello())\n\t}\n}\n\n'
        'func TestBuild(t *testing.T) {\n\tif greet.Build == "" {\n\t\tt.Fatal("empty")\n\t}\n}\n'
    )
    return root


def proxied(settings: Settings, url: str) -> DockerExecutor:
    return DockerExecutor(settings.model_copy(update={"GOPROXY": url}))


def test_a_module_from_the_operators_proxy_is_verified_installed_offline_and_cached(
    tmp_path: Path, settings: Settings, project_id: str, module_proxy: ModuleProxy
) -> None:
    executor = proxied(settings, module_proxy.url)
    # Given a module that needs another one (an indirect requirement), both published on the proxy.
    go_sum = [*module_proxy.publish(GREET, greet_files(uuid.uuid4().hex, uses_words=True))]
    go_sum += module_proxy.publish(WORDS, WORDS_FILES)
    workspace = go_project(tmp_path / "app", [GREET, WORDS], go_sum)

    created = executor.create_project_container(project_id, str(workspace), "go")
    assert created.success and created.container_id, created.error
    assert created.image and "go-deps:" in created.image
    cid = created.container_id
    assert "/example.com/!greet/@v/v1.0.0.zip" in module_proxy.requests
    tests = executor.run_tests(cid, "go")
    assert (tests.tests_passed, tests.tests_failed, tests.tests_errored) == (2, 0, 0), tests.output
    assert executor.run_build(cid, "go").success
    # The sandbox that runs the project's tests has no network: only the loopback interface.
    interfaces = executor.execute_in_container(cid, INTERFACES)
    assert interfaces.output.split() == ["lo"], interfaces.output
    # go.mod and go.sum are left as the project wrote them.
    unchanged = executor.execute_in_container(cid, "cat go.sum")
    assert unchanged.output.splitlines() == go_sum, unchanged.output
    assert build_leftovers(executor, project_id) == []

    # Given the same manifests, a second create asks the proxy for nothing.
    asked = len(module_proxy.requests)
    (workspace / "more_test.go").write_text('package app\n\nimport "testing"\n\nfunc TestMore(t *testing.T) {}\n')
    messages: list[str] = []
    again = executor.create_project_container(project_id, str(workspace), "go", progress=messages.append)
    assert again.success and again.image == created.image, again.error
    assert not any("fetching" in m for m in messages), messages
    assert len(module_proxy.requests) == asked


def test_a_module_whose_content_does_not_match_go_sum_is_refused_by_name(
    tmp_path: Path, settings: Settings, project_id: str, module_proxy: ModuleProxy
) -> None:
    _, mod_line = module_proxy.publish(GREET, greet_files("published"))
    genuine = zip_hash_of(tmp_path / "genuine.zip", GREET, greet_files("genuine"))
    workspace = go_project(tmp_path / "app", [GREET], [f"{GREET.path} {GREET.version} {genuine}", mod_line])

    ok, container_id, error = proxied(settings, module_proxy.url).create_project_container(
        project_id, str(workspace), "go"
    )
    assert (ok, container_id) == (False, None)
    assert error and "example.com/Greet@v1.0.0: its content does not match the hash in go.sum (refused)" in error


def test_a_module_the_proxy_does_not_have_is_named_with_the_reason(
    tmp_path: Path, settings: Settings, project_id: str, module_proxy: ModuleProxy
) -> None:
    go_sum = list(module_proxy.publish(GREET, greet_files("here")))
    missing = GoModule(path="example.com/missing", version="v0.4.2")
    fake = zip_hash_of(tmp_path / "missing.zip", missing, {"go.mod": "module example.com/missing\n"})
    go_sum += [f"{missing.path} {missing.version} {fake}", f"{missing.path} {missing.version}/go.mod {fake}"]
    workspace = go_project(tmp_path / "app", [GREET, missing], go_sum)

    executor = proxied(settings, module_proxy.url)
    ok, container_id, error = executor.create_project_container(project_id, str(workspace), "go")
    assert (ok, container_id) == (False, None)
    assert error and "example.com/missing@v0.4.2: not on the module proxy (HTTP 404)" in error
    assert "Greet" not in error
    assert build_leftovers(executor, project_id) == []


def test_without_a_module_proxy_or_without_go_sum_the_error_names_the_modules(
    tmp_path: Path, settings: Settings, executor: DockerExecutor, project_id: str
) -> None:
    workspace = go_project(tmp_path / "app", [GREET], [f"{GREET.path} {GREET.version}/go.mod h1:{'A' * 43}="])
    ok, _, error = executor.create_project_container(project_id, str(workspace), "go")
    assert not ok and error and "no Go module proxy is configured (GOPROXY)" in error
    assert "example.com/Greet@v1.0.0" in error

    (workspace / "go.sum").unlink()
    ok, _, error = proxied(settings, "http://127.0.0.1:9").create_project_container(project_id, str(workspace), "go")
    assert not ok and error and "go.sum is needed to fetch modules" in error and "example.com/Greet@v1.0.0" in error


def zip_hash_of(path: Path, module: GoModule, files: dict[str, str]) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{module}/{name}", text)
    return zip_hash(path, module)
