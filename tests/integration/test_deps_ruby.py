"""Ruby gems: Gemfile.lock's gems fetched on the host from the operator's gem source (a mirror served on loopback by
these tests), or taken from the project's vendor/cache, installed offline in a build sandbox, cached as a layer;
the sandbox that runs the project's tests stays offline. The gems are built by `gem build` in a Ruby sandbox."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.deps.gem_fetcher import download_gems
from sigma_exec.deps.gem_lock import LockedGem
from tests.conftest import build_leftovers
from tests.integration.loopback_http import NOT_FOUND, Answer, LoopbackSource

INTERFACES = "tail -n +3 /proc/net/dev | cut -d: -f1"
VERSION = f"0.1.{uuid.uuid4().int % 10**8}"  # a release of this run only: its layer is built, never found cached
TINYGEM = {
    "tinygem/tinygem.gemspec": f"""Gem::Specification.new do |s|
  s.name = "tinygem"
  s.version = "{VERSION}"
  s.summary = "A gem served by sigma-exec's tests"
  s.authors = ["sigma-exec tests"]
  s.license = "MIT"
  s.files = ["lib/tinygem.rb", "exe/tinygem-hello"]
  s.bindir = "exe"
  s.executables = ["tinygem-hello"]
end
""",
    "tinygem/lib/tinygem.rb": 'module Tinygem\n  def self.greet(name) = "hello, #{name}"\nend\n',
    "tinygem/exe/tinygem-hello": '#!/usr/bin/env ruby\nrequire "tinygem"\nputs Tinygem.greet(ARGV.first || "world")\n',
    "tinyext/tinyext.gemspec": f"""Gem::Specification.new do |s|
  s.name = "tinyext"
  s.version = "{VERSION}"
  s.summary = "A gem with a C extension"
  s.authors = ["sigma-exec tests"]
  s.files = ["ext/tinyext/extconf.rb", "ext/tinyext/tinyext.c"]
  s.extensions = ["ext/tinyext/extconf.rb"]
end
""",
    "tinyext/ext/tinyext/extconf.rb": 'require "mkmf"\ncreate_makefile("tinyext")\n',
    "tinyext/ext/tinyext/tinyext.c": '#include "ruby.h"\nvoid Init_tinyext(void) {}\n',
}
# Debian's RSpec in the image, at the exact versions it ships: nothing of it is fetched.
RSPEC_SPECS = """\
    diff-lcs (1.5.0)
    rspec (3.12.0)
      rspec-core (~> 3.12.0)
      rspec-expectations (~> 3.12.0)
      rspec-mocks (~> 3.12.0)
    rspec-core (3.12.0)
      rspec-support (~> 3.12.0)
    rspec-expectations (3.12.1)
      diff-lcs (>= 1.2.0, < 2.0)
      rspec-support (~> 3.12.0)
    rspec-mocks (3.12.1)
      diff-lcs (>= 1.2.0, < 2.0)
      rspec-support (~> 3.12.0)
    rspec-support (3.12.0)
"""
SPEC = """require "bundler/setup"
require "tinygem"

RSpec.describe Tinygem do
  it("greets") { expect(Tinygem.greet("sigma")).to eq("hello, sigma") }
  it("is the locked release") { expect(Gem.loaded_specs["tinygem"].version.to_s).to eq(ENV.fetch("V", "%s")) }
end
"""


class GemSource(LoopbackSource):
    """A gem server on 127.0.0.1 (`/gems/<file>`); `/redirect/<path>` answers 302 to `<path>` unless it has it."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = dict(files)

    def answer(self, path: str) -> Answer:
        body = self.files.get(path)
        if body is None and path.startswith("/redirect/"):
            return 302, {"Location": path.removeprefix("/redirect")}, b""
        return (200, {}, body) if body is not None else NOT_FOUND


@pytest.fixture(scope="module")
def gems(executor: DockerExecutor, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bytes]]:
    """tinygem and tinyext, built by `gem build` inside a Ruby sandbox (the host has no Ruby)."""
    source = tmp_path_factory.mktemp("gem-sources")
    for rel, text in TINYGEM.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text)
    project = f"t-gems-{uuid.uuid4().hex[:8]}"
    ok, cid, error = executor.create_project_container(project, str(source), "ruby")
    assert ok and cid, error
    built: dict[str, bytes] = {}
    try:
        for name in ("tinygem", "tinyext"):
            file = f"{name}-{VERSION}.gem"
            out = executor.execute_in_container(
                cid,
                f"cd {name} && gem build {name}.gemspec -o /tmp/{file} >/tmp/build.log 2>&1 && base64 -w0 /tmp/{file}",
            )
            assert out.success, out.output
            built[f"/gems/{file}"] = base64.b64decode(out.output.strip().splitlines()[-1])
    finally:
        executor.cleanup_project(project)
    yield built


@pytest.fixture
def gem_source(gems: dict[str, bytes]) -> Iterator[GemSource]:
    with GemSource(gems).serving() as source:
        yield source


_LAYERS: set[str] = set()  # the layers of this run's unique releases, of no use to a later run


@pytest.fixture(scope="module", autouse=True)
def remove_layers(executor: DockerExecutor) -> Iterator[None]:
    yield
    assert executor.backend is not None
    for ref in _LAYERS:
        executor.backend.remove_image(ref)


def lock(*extra_specs: str, checksums: dict[str, bytes] | None = None, remote: str = "https://rubygems.org/") -> str:
    specs = RSPEC_SPECS + "".join(f"    {s}\n" for s in extra_specs)
    names = "".join(f"  {s.split(' ')[0]}\n" for s in extra_specs)
    text = f"GEM\n  remote: {remote}\n  specs:\n{specs}\nPLATFORMS\n  ruby\n  x86_64-linux\n\n"
    text += f"DEPENDENCIES\n  rspec (~> 3.12)\n{names}\n"
    if checksums:
        sums = "".join(f"  {k} sha256={hashlib.sha256(v).hexdigest()}\n" for k, v in checksums.items())
        text += f"CHECKSUMS\n{sums}\n"
    return text + "BUNDLED WITH\n   2.3.15\n"


def project(tmp_path: Path, lock_text: str | None, gems: list[str], remote: str = "https://rubygems.org") -> Path:
    workspace = tmp_path / "app"
    (workspace / "spec").mkdir(parents=True)
    gemfile = f'source "{remote}"\n\ngem "rspec", "~> 3.12"\n' + "".join(f'gem "{g}"\n' for g in gems)
    (workspace / "Gemfile").write_text(gemfile)
    if lock_text is not None:
        (workspace / "Gemfile.lock").write_text(lock_text)
    (workspace / ".rspec").write_text("--require spec_helper\n")
    (workspace / "spec" / "spec_helper.rb").write_text("RSpec.configure { |c| c.disable_monkey_patching! }\n")
    (workspace / "spec" / "tinygem_spec.rb").write_text(SPEC % VERSION)
    return workspace


def executor_with(settings: Settings, **overrides: object) -> DockerExecutor:
    return DockerExecutor(settings.model_copy(update=overrides))


def test_a_locked_gem_from_the_operators_gem_source_is_installed_and_the_tests_run_offline(
    tmp_path: Path, settings: Settings, project_id: str, gem_source: GemSource
) -> None:
    tinygem = f"tinygem-{VERSION}"
    text = lock(f"tinygem ({VERSION})", checksums={tinygem: gem_source.files[f"/gems/{tinygem}.gem"]}, remote="x")
    text = text.replace("remote: x", "remote: https://gems.example.invalid/")
    workspace = project(tmp_path, text, ["tinygem"], remote="https://gems.example.invalid")
    executor = executor_with(settings, GEM_SOURCE=gem_source.url)

    created = executor.create_project_container(project_id, str(workspace), "ruby")
    assert created.success, created.error
    assert created.image and "ruby-deps:" in created.image
    _LAYERS.add(created.image)
    # Only what the image lacks was asked for: Debian's RSpec, at the locked versions, needs nothing.
    assert gem_source.requests == [f"/gems/{tinygem}.gem"]
    assert any("gems.example.invalid" in w and "GEM_SOURCE decides" in w for w in created.warnings), created.warnings

    tests = executor.run_tests(created.container_id, "ruby")
    assert (tests.tests_passed, tests.tests_failed, tests.tests_errored) == (2, 0, 0), tests.output
    assert tests.success is True
    # Plain `require` and the gem's executable find it too, without Bundler.
    hello = executor.execute_in_container(created.container_id, "tinygem-hello sigma && ruby -rtinygem -e 'p Tinygem'")
    assert hello.output.split() == ["hello,", "sigma", "Tinygem"], hello.output
    # The sandbox that runs the project's code has no network: only the loopback interface.
    assert executor.execute_in_container(created.container_id, INTERFACES).output.split() == ["lo"]
    # Nothing was written into the workspace, and the gems are not writable by the sandbox user.
    listing = executor.execute_in_container(created.container_id, "ls -A; touch /opt/sigma/gems/x 2>&1 || echo ro")
    assert listing.output.split()[:4] == [".rspec", "Gemfile", "Gemfile.lock", "spec"] and "ro" in listing.output
    assert build_leftovers(executor, project_id) == []


def test_a_second_create_of_an_unchanged_project_fetches_nothing(
    tmp_path: Path, settings: Settings, project_id: str, gem_source: GemSource
) -> None:
    workspace = project(tmp_path, lock(f"tinygem ({VERSION})"), ["tinygem"])
    executor = executor_with(settings, GEM_SOURCE=gem_source.url)
    first = executor.create_project_container(project_id, str(workspace), "ruby")
    assert first.success, first.error
    _LAYERS.add(str(first.image))
    asked = len(gem_source.requests)
    (workspace / "spec" / "more_spec.rb").write_text('RSpec.describe("more") { it("runs") { expect(1).to eq(1) } }\n')
    messages: list[str] = []
    second = executor.create_project_container(project_id, str(workspace), "ruby", progress=messages.append)
    assert second.success and second.image == first.image
    assert not any("fetching" in m for m in messages), messages
    assert len(gem_source.requests) == asked
    tests = executor.run_tests(second.container_id, "ruby")
    assert (tests.tests_passed, tests.tests_failed) == (3, 0), tests.output


def test_a_gem_the_source_lacks_is_a_clear_error_naming_it(
    tmp_path: Path, settings: Settings, project_id: str, gem_source: GemSource
) -> None:
    workspace = project(tmp_path, lock(f"tinygem ({VERSION})", "absentgem (9.9.9)"), ["tinygem", "absentgem"])
    executor = executor_with(settings, GEM_SOURCE=gem_source.url)
    ok, cid, error = executor.create_project_container(project_id, str(workspace), "ruby")
    assert not ok and cid is None
    assert error and "absentgem (9.9.9): not found on the gem source (GEM_SOURCE)" in error, error
    assert "tinygem" not in error  # the gem the source has is not blamed
    assert "/gems/absentgem-9.9.9.gem" in gem_source.requests
    assert build_leftovers(executor, project_id) == []


def test_best_effort_installs_what_can_be_had_and_warns_about_the_rest(
    tmp_path: Path, settings: Settings, project_id: str, gem_source: GemSource
) -> None:
    git = "GIT\n  remote: https://github.com/o/forked.git\n  revision: abc123\n  specs:\n    forked (1.0.0)\n\n"
    workspace = project(tmp_path, git + lock(f"tinygem ({VERSION})", "absentgem (9.9.9)"), ["tinygem"])
    executor = executor_with(settings, GEM_SOURCE=gem_source.url, DEPS_BEST_EFFORT=True)
    created = executor.create_project_container(project_id, str(workspace), "ruby")
    assert created.success, created.error
    _LAYERS.add(str(created.image))
    warnings = " | ".join(created.warnings)
    assert "dependency unavailable: absentgem (9.9.9): not found on the gem source" in warnings, warnings
    assert "dependency unavailable: forked (1.0.0): comes from git (https://github.com/o/forked.git)" in warnings
    hello = executor.execute_in_container(created.container_id, "tinygem-hello")
    assert hello.output.strip() == "hello, world", hello.output


def test_without_a_gem_source_the_error_names_each_gem_and_the_setting(
    tmp_path: Path, executor: DockerExecutor, project_id: str
) -> None:
    workspace = project(tmp_path, lock(f"tinygem ({VERSION})", "othergem (1.2.3)"), ["tinygem", "othergem"])
    ok, _cid, error = executor.create_project_container(project_id, str(workspace), "ruby")
    assert not ok
    assert error and f"tinygem ({VERSION}): not in the image nor in vendor/cache" in error, error
    assert (
        "othergem (1.2.3): not in the image nor in vendor/cache, and no gem source is configured (set GEM_SOURCE)"
        in error
    )
    assert "rspec" not in error.split("dependencies could not be installed:")[1]  # the image has those


def test_gems_in_vendor_cache_install_offline_without_a_gem_source(
    tmp_path: Path, executor: DockerExecutor, project_id: str, gems: dict[str, bytes]
) -> None:
    workspace = project(tmp_path, lock(f"tinygem ({VERSION})"), ["tinygem"])
    (workspace / "vendor" / "cache").mkdir(parents=True)
    (workspace / "vendor" / "cache" / f"tinygem-{VERSION}.gem").write_bytes(gems[f"/gems/tinygem-{VERSION}.gem"])
    created = executor.create_project_container(project_id, str(workspace), "ruby")
    assert created.success, created.error
    _LAYERS.add(str(created.image))
    tests = executor.run_tests(created.container_id, "ruby")
    assert (tests.tests_passed, tests.tests_failed, tests.tests_errored) == (2, 0, 0), tests.output


def test_a_path_gem_of_the_workspace_is_used_in_place_and_its_dependencies_are_fetched(
    tmp_path: Path, settings: Settings, project_id: str, gem_source: GemSource
) -> None:
    path_section = "PATH\n  remote: gems/localgem\n  specs:\n    localgem (0.3.0)\n      tinygem\n\n"
    workspace = project(tmp_path, path_section + lock(f"tinygem ({VERSION})"), [])
    (workspace / "Gemfile").write_text('gem "rspec", "~> 3.12"\ngem "localgem", path: "gems/localgem"\n')
    local = workspace / "gems" / "localgem"
    (local / "lib").mkdir(parents=True)
    (local / "localgem.gemspec").write_text(
        'Gem::Specification.new do |s|\n  s.name = "localgem"\n  s.version = "0.3.0"\n  s.summary = "local"\n'
        '  s.authors = ["t"]\n  s.files = ["lib/localgem.rb"]\n  s.add_dependency "tinygem"\nend\n'
    )
    (local / "lib" / "localgem.rb").write_text('require "tinygem"\nmodule Localgem\n  HI = "local"\nend\n')
    (workspace / "spec" / "tinygem_spec.rb").write_text(
        'require "bundler/setup"\nrequire "localgem"\n'
        'RSpec.describe("localgem") { it("greets") { expect(Tinygem.greet(Localgem::HI)).to eq("hello, local") } }\n'
    )
    executor = executor_with(settings, GEM_SOURCE=gem_source.url)
    created = executor.create_project_container(project_id, str(workspace), "ruby")
    assert created.success, created.error
    _LAYERS.add(str(created.image))
    assert gem_source.requests == [f"/gems/tinygem-{VERSION}.gem"]  # the path gem itself is never fetched
    assert executor.run_tests(created.container_id, "ruby").tests_passed == 1
    # An edit of the path gem is seen at once: Bundler loads it from the workspace, not from a copy in the layer.
    edit = {
        "filepath": "gems/localgem/lib/localgem.rb",
        "content": 'require "tinygem"\nmodule Localgem\n  HI = "edited"\nend\n',
    }
    assert executor.apply_changes(created.container_id, [edit]).success
    after = executor.run_tests(created.container_id, "ruby")
    assert after.tests_failed == 1 and "hello, edited" in after.output, after.output


def test_a_gemfile_without_a_lock_naming_a_gem_the_image_lacks_is_a_clear_error(
    tmp_path: Path, settings: Settings, project_id: str, gem_source: GemSource
) -> None:
    workspace = project(tmp_path, None, ["tinygem", "rake"])
    executor = executor_with(settings, GEM_SOURCE=gem_source.url)
    ok, _cid, error = executor.create_project_container(project_id, str(workspace), "ruby")
    assert not ok
    assert error and "Gemfile.lock is needed to fetch gems: tinygem is not in the image" in error, error
    assert gem_source.requests == []


def test_a_native_extension_that_cannot_compile_names_the_gem_and_its_last_lines(
    tmp_path: Path, settings: Settings, project_id: str, gem_source: GemSource
) -> None:
    workspace = project(tmp_path, lock(f"tinyext ({VERSION})"), ["tinyext"])
    executor = executor_with(settings, GEM_SOURCE=gem_source.url)
    ok, _cid, error = executor.create_project_container(project_id, str(workspace), "ruby")
    assert not ok
    assert error and f"gem tinyext-{VERSION} could not be installed offline" in error, error
    assert "Failed to build gem native extension" in error and "mkmf.rb can't find header files" in error, error
    assert build_leftovers(executor, project_id) == []


# ---- the fetch on the host alone (no Docker) ---------------------------------------------------------------------
def _gem(name: str = "tinygem") -> LockedGem:
    return LockedGem(name=name, version=VERSION)


def test_a_gem_that_differs_from_the_locks_checksum_is_refused(gem_source: GemSource, tmp_path: Path) -> None:
    fetched = download_gems(
        gem_source.url, [_gem()], tmp_path, timeout_s=30, max_bytes=2**20, checksums={f"tinygem-{VERSION}": "0" * 64}
    )
    assert [str(p) for p in fetched.problems] == [
        f"tinygem ({VERSION}): the file differs from the sha256 in Gemfile.lock's CHECKSUMS"
    ]
    assert list(tmp_path.iterdir()) == []


def test_the_fetch_is_bounded_in_size_and_refuses_what_is_not_a_gem(gem_source: GemSource, tmp_path: Path) -> None:
    fetched = download_gems(gem_source.url, [_gem()], tmp_path, timeout_s=30, max_bytes=1000, checksums={})
    assert "more than the 0 MiB limit (DEPS_MAX_MB)" in str(fetched.problems[0])
    gem_source.files[f"/gems/notagem-{VERSION}.gem"] = b"<html>mirror login page</html>"
    fetched = download_gems(gem_source.url, [_gem("notagem")], tmp_path, timeout_s=30, max_bytes=2**20, checksums={})
    assert str(fetched.problems[0]).endswith("the gem source's answer is not a gem file")
    assert list(tmp_path.iterdir()) == []


def test_credentials_go_to_the_gem_source_and_never_on_to_a_redirect(gem_source: GemSource, tmp_path: Path) -> None:
    url = gem_source.url.replace("http://", "http://ci:s3cret@") + "/redirect"
    fetched = download_gems(url, [_gem()], tmp_path, timeout_s=30, max_bytes=2**20, checksums={})
    assert fetched.problems == [] and len(fetched.files) == 1
    assert gem_source.requests == [f"/redirect/gems/tinygem-{VERSION}.gem", f"/gems/tinygem-{VERSION}.gem"]
    assert gem_source.headers[0]["Authorization"] == "Basic Y2k6czNjcmV0"
    assert "Authorization" not in gem_source.headers[1]
