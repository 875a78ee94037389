"""Ruby manifests read as text (never run): Gemfile.lock's sections, a Gemfile's gem lines, the layer plan."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sigma_exec import Settings
from sigma_exec.deps.gem_fetcher import best_releases, cached_gem, parse_probe, split_credentials
from sigma_exec.deps.gem_lock import (
    GemLock,
    LockedGem,
    gemfile_gem_names,
    gemspec_dependency_names,
    install_order,
    parse_lock,
    select_gems,
)
from sigma_exec.deps.layer import LayerJob
from sigma_exec.languages import resolve_language

LOCKS = Path(__file__).resolve().parent.parent / "data" / "gemfile_locks"
LOCAL = "x86_64-linux"
# What Debian bookworm's Ruby image reports for a few of its gems (name, version).
IMAGE = {("rake", "13.0.6"), ("rspec-core", "3.12.0"), ("racc", "1.6.0"), ("json", "2.6.1"), ("bundler", "2.3.15")}


def lock(name: str) -> GemLock:
    return parse_lock((LOCKS / name).read_bytes().decode())


def by_name(parsed: GemLock, source: str = "GEM") -> dict[str, list[LockedGem]]:
    found: dict[str, list[LockedGem]] = {}
    for gem in parsed.gems:
        if gem.source == source:
            found.setdefault(gem.name, []).append(gem)
    return found


# ---- Gemfile.lock ---------------------------------------------------------------------------------------------
def test_a_library_lock_gives_every_gem_with_its_version_and_dependencies() -> None:
    parsed = lock("library_with_gemspec.lock")
    gems = by_name(parsed)
    assert len(gems) == 21
    assert [str(g) for g in gems["rspec-core"]] == ["rspec-core (3.5.4)"]
    assert gems["rubocop"][0].dependencies == ("astrolabe", "parser", "powerpack", "rainbow", "ruby-progressbar")
    assert gems["parser"][0].version == "2.3.3.1"  # four-part versions stay whole
    assert gems["codeclimate-test-reporter"][0].dependencies == ("simplecov",)  # a dependency without a version
    assert [(g.name, g.version, g.remote) for g in by_name(parsed, "PATH")["simple_commander"]] == [
        ("simple_commander", "0.5.1", ".")
    ]
    assert parsed.platforms == ["ruby"] and parsed.bundled_with == "1.12.5" and parsed.unread == []
    assert parsed.remotes == ["https://rubygems.org/"]


def test_git_path_and_gem_sections_are_told_apart_and_platform_variants_kept() -> None:
    parsed = lock("app_platforms_git_path.lock")
    git = by_name(parsed, "GIT")
    assert list(git) == ["thor"] and git["thor"][0].remote == "https://github.com/rails/thor.git"
    assert by_name(parsed, "PATH")["billing"][0].remote == "engines/billing"
    nokogiri = by_name(parsed)["nokogiri"]
    assert [(g.version, g.platform) for g in nokogiri] == [
        ("1.16.0", "ruby"),
        ("1.16.0", "arm64-darwin"),
        ("1.16.0", "x86_64-linux"),
    ]
    assert nokogiri[2].file_name == "nokogiri-1.16.0-x86_64-linux.gem"
    assert nokogiri[0].file_name == "nokogiri-1.16.0.gem"
    assert parsed.platforms == ["arm64-darwin", "ruby", "x86_64-linux"]
    assert parsed.bundled_with == "2.5.6"  # RUBY VERSION does not disturb the sections around it


def test_checksums_are_read_per_release_and_platform() -> None:
    parsed = lock("bundler26_checksums.lock")
    assert parsed.checksums["rake-13.2.1"] == "46cb38dae65d7d74b6020a4ac9d48afed8eb8149c040eccf0523bec91dff8e23"
    assert parsed.checksums["nokogiri-1.18.9-x86_64-linux-gnu"].endswith("0002")
    assert "racc-1.8.1" not in parsed.checksums  # listed without a checksum
    assert parsed.bundled_with == "2.6.2"


def test_an_old_lock_with_two_remotes_and_crlf_line_ends_is_read() -> None:
    parsed = lock("legacy_two_remotes_crlf.lock")
    assert [str(g) for g in parsed.gems] == ["private_tool (2.0.1)", "rake (10.5.0)"]
    assert parsed.gems[0].dependencies == ("rake",)
    assert parsed.remotes == ["https://rubygems.org/", "https://gems.example.com/"]


@pytest.mark.parametrize(
    "line",
    [
        "    ../../etc/passwd (1.0)",  # not a gem name
        "    rake (13.0.6) extra",
        "    rake (1.0-)",  # a platform cannot be empty
        "    rake (one)",  # not a version
        "    rake",  # a spec without a version
        "\trake (1.0)",
    ],
)
def test_a_spec_line_that_is_not_understood_is_reported_never_guessed(line: str) -> None:
    parsed = parse_lock(f"GEM\n  remote: https://rubygems.org/\n  specs:\n{line}\n    rack (3.0.8)\n")
    assert [str(g) for g in parsed.gems] == ["rack (3.0.8)"]
    assert parsed.unread == [line.strip()] or (line.startswith("\t") and parsed.unread == ["rake (1.0)"])


def test_hostile_lock_files_are_read_in_linear_time() -> None:
    shapes = [
        "GEM\n  specs:\n" + "    a (" + "(" * 200_000 + "\n",
        "GEM\n  specs:\n" + "    a (1.0)\n" + "      b (" + "~> 1, " * 100_000 + "\n",
        "CHECKSUMS\n" + "  a (1.0) " + "sha256=" * 100_000 + "\n",
        "GEM\n  specs:\n" + "    x (1.0)\n      y\n" * 50_000,
    ]
    for text in shapes:
        started = time.monotonic()
        parse_lock(text)
        assert time.monotonic() - started < 2.0


# ---- which gems the layer needs ------------------------------------------------------------------------------
def test_the_image_platforms_release_is_chosen_and_gems_for_other_platforms_only_are_named() -> None:
    selection = select_gems(lock("app_platforms_git_path.lock"), IMAGE, set(), LOCAL)
    fetch = {g.name: g for g in selection.fetch}
    assert fetch["nokogiri"].platform == "x86_64-linux"  # not the ruby (source) release, not darwin's
    assert "thor" not in fetch and "billing" not in fetch  # git and path gems are never fetched
    assert "rake" not in fetch and [g.name for g in selection.in_image] == ["rake"]
    assert "bundler" not in fetch  # the image's Bundler runs the lock
    assert selection.problems == [
        "sqlite3: no release for x86_64-linux in Gemfile.lock (locked platforms: arm64-darwin, x86_64-darwin)"
    ]
    assert fetch["wdm"].file_name == "wdm-0.1.1.gem"


def test_a_gnu_release_suits_the_image_and_a_musl_one_does_not() -> None:
    selection = select_gems(lock("bundler26_checksums.lock"), set(), set(), LOCAL)
    assert {g.full_name for g in selection.fetch if g.name == "nokogiri"} == {"nokogiri-1.18.9-x86_64-linux-gnu"}


def test_a_release_in_vendor_cache_is_installed_from_there_and_the_image_version_must_match_exactly() -> None:
    parsed = parse_lock("GEM\n  remote: https://rubygems.org/\n  specs:\n    rake (13.0.6)\n    rspec-core (3.13.0)\n")
    selection = select_gems(parsed, IMAGE, {"rspec-core-3.13.0.gem"}, LOCAL)
    assert [str(g) for g in selection.in_image] == ["rake (13.0.6)"]
    assert [str(g) for g in selection.vendored] == ["rspec-core (3.13.0)"]
    assert selection.fetch == []
    other = select_gems(parsed, IMAGE, set(), LOCAL)
    assert [str(g) for g in other.fetch] == ["rspec-core (3.13.0)"]  # the image's 3.12.0 is not 3.13.0


def test_dependencies_are_installed_before_their_dependents() -> None:
    gems = by_name(lock("library_with_gemspec.lock"))
    order = [g.name for g in install_order([v[0] for v in gems.values()])]
    for gem in (v[0] for v in gems.values()):
        for dep in gem.dependencies:
            assert order.index(dep) < order.index(gem.name), (dep, gem.name)


# ---- a Gemfile without a lock ----------------------------------------------------------------------------------
GEMFILE = """\
source "https://rubygems.org"
git_source(:github) { |repo| "https://github.com/#{repo}.git" }

ruby "3.1.2"
gemspec

gem "rake", "~> 13.0"
gem 'rspec', require: false
gem("pry-byebug") # debugging
gem "tzinfo-data", platforms: %i[mingw mswin x64_mingw jruby]
gem "byebug", platforms: [:mri, :mingw]
gem "local_thing", path: "vendor/local_thing"
gem "forked", github: "someone/forked", branch: "main"

platforms :jruby do
  gem "jruby-openssl"
end

group :development, :test do
  gem "rubocop-rspec"
end
"""


def test_a_gemfile_is_read_as_text_for_the_gems_cruby_needs() -> None:
    names, from_git, uses_gemspec = gemfile_gem_names(GEMFILE)
    assert names == ["byebug", "pry-byebug", "rake", "rspec", "rubocop-rspec"]
    assert from_git == ["forked"]
    assert uses_gemspec is True


def test_a_gemspecs_literal_dependencies_are_read_without_running_it() -> None:
    spec = """Gem::Specification.new do |spec|
  spec.name = "app"
  spec.add_dependency "colorize", "= 1.1.0"
  spec.add_runtime_dependency("thor", "~> 1.3")
  spec.add_development_dependency "rake"
  s.add_dependency(%q<json>.freeze, [">= 2"])
end
"""
    assert gemspec_dependency_names(spec) == ["colorize", "json", "rake", "thor"]


# ---- small pure helpers ----------------------------------------------------------------------------------------
def test_the_image_probe_is_read_line_by_line() -> None:
    image = parse_probe("x86_64-linux\nrake 13.0.6\nrspec-core 3.12.0\nwarning: something odd\n")
    assert image is not None and image.platform == "x86_64-linux"
    assert image.gems == {("rake", "13.0.6"), ("rspec-core", "3.12.0")}
    assert parse_probe("") is None and parse_probe("/usr/bin/ruby: not found here\n") is None


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("rspec-core-3.12.0.gem", "rspec-core (3.12.0)"),
        ("nokogiri-1.16.0-x86_64-linux.gem", "nokogiri (1.16.0-x86_64-linux)"),
        ("net-http-0.4.1.gem", "net-http (0.4.1)"),
        ("notes.txt", None),
    ],
)
def test_a_vendor_cache_file_name_says_which_release_it_holds(file_name: str, expected: str | None) -> None:
    gem = cached_gem(file_name)
    assert (str(gem) if gem else None) == expected


def test_of_the_releases_in_vendor_cache_the_image_platforms_is_kept() -> None:
    names = [
        "nokogiri-1.16.0.gem",
        "nokogiri-1.16.0-x86_64-linux.gem",
        "nokogiri-1.16.0-arm64-darwin.gem",
        "rake-13.2.1.gem",
    ]
    kept = best_releases([g for g in map(cached_gem, names) if g], LOCAL)
    assert sorted(g.file_name for g in kept) == ["nokogiri-1.16.0-x86_64-linux.gem", "rake-13.2.1.gem"]


def test_credentials_in_the_gem_source_become_a_header_and_leave_the_url() -> None:
    assert split_credentials("https://gems.example.com/mirror/") == ("https://gems.example.com/mirror", "")
    url, auth = split_credentials("https://ci%40corp:s3cr%2Ft@gems.example.com:8443/")
    assert url == "https://gems.example.com:8443" and auth == "Basic Y2lAY29ycDpzM2NyL3Q="
    with pytest.raises(ValueError, match="http"):
        split_credentials("file:///etc/passwd")


# ---- the plan of a workspace (no Docker, nothing run) -----------------------------------------------------------
def plan(workspace: Path, **settings: object) -> LayerJob:
    return LayerJob(resolve_language("ruby"), Settings(**settings), workspace)  # type: ignore[arg-type]


def test_a_project_without_gems_needs_no_layer(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "Rakefile").write_text("task :default\n")
    assert plan(tmp_path).needed is False


def test_git_gems_and_path_gems_outside_the_workspace_are_clear_problems_before_any_fetch(tmp_path: Path) -> None:
    (tmp_path / "Gemfile").write_text('gem "thor", github: "rails/thor"\n')
    text = (LOCKS / "app_platforms_git_path.lock").read_text().replace("engines/billing", "../billing")
    (tmp_path / "Gemfile.lock").write_text(text)
    job = plan(tmp_path)
    assert job.needed is True
    assert any(p.startswith("thor (1.3.2): comes from git (https://github.com/rails/thor.git)") for p in job.problems)
    assert "billing (0.1.0): its path ../billing is outside the workspace" in job.problems
    assert job.key_files == ["Gemfile.lock"]


def test_a_path_gem_inside_the_workspace_is_no_problem_and_another_source_is_only_noted(tmp_path: Path) -> None:
    (tmp_path / "engines" / "billing").mkdir(parents=True)
    text = (LOCKS / "app_platforms_git_path.lock").read_text()
    (tmp_path / "Gemfile.lock").write_text(text.split("PATH", 1)[1].join(["PATH", ""]).replace("rubygems.org", "x.io"))
    job = plan(tmp_path)
    assert job.problems == []
    assert job.notes == ["Gemfile.lock names the gem source https://x.io/: ignored, the operator's GEM_SOURCE decides"]


def test_a_gemfile_without_a_lock_keys_the_layer_with_its_gemspec_and_vendor_cache(tmp_path: Path) -> None:
    (tmp_path / "Gemfile").write_text(GEMFILE)
    (tmp_path / "app.gemspec").write_text('Gem::Specification.new { |s| s.add_dependency "colorize" }\n')
    (tmp_path / "vendor" / "cache").mkdir(parents=True)
    (tmp_path / "vendor" / "cache" / "colorize-1.1.0.gem").write_bytes(b"gem")
    job = plan(tmp_path)
    assert job.needed is True
    assert job.key_files == ["Gemfile", "app.gemspec", "vendor/cache"]
    assert job.problems == [
        "forked: comes from git, which is never fetched (publish it to the gem source, or carry it "
        "in the workspace as a path gem)"
    ]


def test_linked_files_and_folders_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "Gemfile.lock").symlink_to(LOCKS / "library_with_gemspec.lock")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config").write_text("BUNDLE_PATH: vendor/bundle\n")
    (tmp_path / ".bundle").symlink_to(elsewhere)
    job = plan(tmp_path)
    assert job.needed is False and job.notes == []
    (tmp_path / ".bundle").unlink()
    (tmp_path / ".bundle").mkdir()
    (tmp_path / ".bundle" / "config").write_text("BUNDLE_PATH: vendor/bundle\n")
    assert plan(tmp_path).notes == [
        ".bundle/config sets BUNDLE_PATH: Bundler will look for gems there, not in the layer"
    ]
