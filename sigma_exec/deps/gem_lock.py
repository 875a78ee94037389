"""Ruby manifests read as text, never evaluated: Gemfile.lock's sections, and the gem names a Gemfile states.

A Gemfile (and a gemspec) is Ruby code, so nothing here runs it: the lock file is the exact set of gems
(`GEM` sections: `    name (version)` or `    name (version-platform)` at 4 spaces, their dependencies at 6),
and a Gemfile without a lock is only scanned for literal `gem "name"` lines. Every function is pure, linear
in its input (line by line, anchored regexes without nested quantifiers) and bounded by the caller's cap.
"""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter

from pydantic import BaseModel, ConfigDict, Field

MAX_LOCK_BYTES = 4 * 1024 * 1024
MAX_UNREAD = 20
RUBY = "ruby"
RUBYGEMS_ORG = ("https://rubygems.org", "http://rubygems.org", "https://rubygems.org/", "http://rubygems.org/")
SOURCE_SECTIONS = ("GEM", "PATH", "GIT", "PLUGIN SOURCE")
NEVER_FETCHED = ("bundler",)  # the image's Bundler runs the lock; another one would only shadow it

_NAME = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}"
_SECTION = re.compile(r"^([A-Z][A-Z ]{0,30})$")
_OPTION = re.compile(r"^  (remote|revision|branch|tag|ref|glob|submodules|type|specs):(?: (.*))?$")
_SPEC = re.compile(rf"^    ({_NAME}) \(([^()\s]{{1,120}})\)$")
_DEP = re.compile(rf"^      ({_NAME})(?: \([^()]{{0,200}}\))?$")
_CHECKSUM = re.compile(rf"^  ({_NAME}) \(([^()\s]{{1,120}})\)(?: (\S{{1,600}}))?$")
_VERSION = re.compile(r"^[0-9]+(?:\.[0-9A-Za-z]+){0,10}$")
_PLATFORM = re.compile(r"^[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+){0,4}$")
_SHA256 = re.compile(r"(?:^|,)sha256=([0-9a-f]{64})(?:,|$)")

_GEM_LINE = re.compile(r"""^\s*gem[\s(]+["'](""" + _NAME + r""")["'](.*)$""")
_GEMSPEC_LINE = re.compile(r"^\s*gemspec\b")
_GEMSPEC_DEP = re.compile(
    r"""\.add_(?:runtime_|development_)?dependency[\s(]+(?:["']("""
    + _NAME
    + r""")["']|%q[<{(\[]("""
    + _NAME
    + r"""))"""
)
_PLATFORMS_BLOCK = re.compile(r"^(\s*)(?:platforms?|install_if)\b(.{0,300})\bdo\s*(?:\|[^|]*\|)?\s*$")
_CRUBY = re.compile(r"\b(?:ruby|mri)(?:_\d+)?\b")
_OPTION_PLATFORMS = re.compile(r"\bplatforms?:")
_FOREIGN_SOURCE = re.compile(r"\b(?:git|github|gitlab|bitbucket):")
_LOCAL_PATH = re.compile(r"\bpath:")


class LockedGem(BaseModel):
    """One `specs:` entry of a Gemfile.lock source section."""

    model_config = ConfigDict(frozen=True)
    name: str
    version: str
    platform: str = RUBY
    source: str = "GEM"  # GEM | PATH | GIT | PLUGIN SOURCE
    remote: str = ""
    dependencies: tuple[str, ...] = ()

    @property
    def locked_version(self) -> str:
        """The version as Gemfile.lock writes it: `version` or `version-platform`."""
        return self.version if self.platform == RUBY else f"{self.version}-{self.platform}"

    @property
    def full_name(self) -> str:
        """RubyGems' own name of the release: `name-version` or `name-version-platform`."""
        return f"{self.name}-{self.locked_version}"

    @property
    def file_name(self) -> str:
        return f"{self.full_name}.gem"

    def __str__(self) -> str:
        return f"{self.name} ({self.locked_version})"


class GemLock(BaseModel):
    """What a Gemfile.lock states, read without running anything."""

    model_config = ConfigDict(frozen=True)
    gems: list[LockedGem] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    remotes: list[str] = Field(default_factory=list, description="the remotes of its GEM sections")
    checksums: dict[str, str] = Field(default_factory=dict, description="full_name → sha256 (CHECKSUMS section)")
    bundled_with: str = ""
    unread: list[str] = Field(default_factory=list, description="spec lines not understood (first few)")


class GemSelection(BaseModel):
    """Which locked gems the layer needs and where each comes from."""

    model_config = ConfigDict(frozen=True)
    fetch: list[LockedGem] = Field(default_factory=list, description="from the operator's gem source")
    vendored: list[LockedGem] = Field(default_factory=list, description="from the project's vendor/cache")
    in_image: list[LockedGem] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class _LockReader:
    """State of one pass over a lock file's lines."""

    def __init__(self) -> None:
        self.gems: list[LockedGem] = []
        self.platforms: list[str] = []
        self.remotes: list[str] = []
        self.checksums: dict[str, str] = {}
        self.bundled_with = ""
        self.unread: list[str] = []
        self.section = ""
        self.remote = ""
        self.in_specs = False
        self.current: dict[str, object] | None = None

    def close_spec(self) -> None:
        if self.current is not None:
            self.gems.append(LockedGem.model_validate(self.current))
            self.current = None

    def line(self, raw: str) -> None:
        section = _SECTION.match(raw)
        if section:
            self.close_spec()
            self.section, self.remote, self.in_specs = section.group(1).strip(), "", False
        elif self.section in SOURCE_SECTIONS:
            self.source_line(raw)
        elif self.section == "PLATFORMS" and raw.startswith("  ") and _PLATFORM.match(raw.strip()):
            self.platforms.append(raw.strip())
        elif self.section == "CHECKSUMS":
            self.checksum_line(raw)
        elif self.section == "BUNDLED WITH" and raw.strip() and _VERSION.match(raw.strip()):
            self.bundled_with = raw.strip()

    def source_line(self, raw: str) -> None:
        option = _OPTION.match(raw)
        if option:
            self.close_spec()
            key, value = option.group(1), (option.group(2) or "").strip()
            if key == "remote":
                self.remote = self.remote or value
                if self.section == "GEM":
                    self.remotes.append(value)
            self.in_specs = key == "specs"
            return
        if not self.in_specs or not raw.strip():
            return
        dep = _DEP.match(raw)
        if dep and self.current is not None:
            self.current["dependencies"] = (*self.current["dependencies"], dep.group(1))  # type: ignore[misc]
            return
        self.close_spec()
        spec = _SPEC.match(raw)
        parsed = _version_platform(spec.group(2)) if spec else None
        if spec is None or parsed is None:
            if len(self.unread) < MAX_UNREAD:
                self.unread.append(raw.strip()[:200])
            return
        version, platform = parsed
        self.current = {
            "name": spec.group(1),
            "version": version,
            "platform": platform,
            "source": self.section,
            "remote": self.remote,
            "dependencies": (),
        }

    def checksum_line(self, raw: str) -> None:
        match = _CHECKSUM.match(raw)
        parsed = _version_platform(match.group(2)) if match else None
        if match is None or parsed is None or not match.group(3):
            return
        sha = _SHA256.search(match.group(3))
        if sha:
            gem = LockedGem(name=match.group(1), version=parsed[0], platform=parsed[1])
            self.checksums[gem.full_name] = sha.group(1)


def _version_platform(text: str) -> tuple[str, str] | None:
    """`1.15.4` → (1.15.4, ruby); `1.15.4-x86_64-linux` → (1.15.4, x86_64-linux); None when malformed."""
    version, dash, platform = text.partition("-")
    if not _VERSION.match(version) or (dash and not _PLATFORM.match(platform)):
        return None
    return version, platform or RUBY


def parse_lock(text: str) -> GemLock:
    """Gemfile.lock's sources, platforms, checksums and Bundler version (pure, linear, nothing evaluated)."""
    reader = _LockReader()
    for raw in text[:MAX_LOCK_BYTES].splitlines():
        reader.line(raw.rstrip("\r"))
    reader.close_spec()
    return GemLock(
        gems=reader.gems,
        platforms=reader.platforms,
        remotes=reader.remotes,
        checksums=reader.checksums,
        bundled_with=reader.bundled_with,
        unread=reader.unread,
    )


def platform_rank(platform: str, local: str) -> int | None:
    """How well a gem's platform suits the image (lower is better); None when it cannot run there."""
    if platform == local:
        return 0
    if platform in (f"{local}-gnu", local.removesuffix("-gnu")):
        return 1
    return 2 if platform == RUBY else None


def select_gems(lock: GemLock, image: set[tuple[str, str]], cached: set[str], local: str) -> GemSelection:
    """The `GEM` gems the layer needs: the image's own (same name and version) need nothing, a release the
    project carries in vendor/cache is installed from there, the rest is fetched; one variant per gem, the
    image platform's before `ruby`. `image` holds (name, version); `cached` holds vendor/cache file names."""
    chosen: dict[str, tuple[int, LockedGem]] = {}
    offered: dict[str, list[str]] = {}
    for gem in lock.gems:
        if gem.source != "GEM" or gem.name in NEVER_FETCHED:
            continue
        offered.setdefault(gem.name, []).append(gem.platform)
        rank = platform_rank(gem.platform, local)
        if rank is not None and (gem.name not in chosen or rank < chosen[gem.name][0]):
            chosen[gem.name] = (rank, gem)
    problems = [
        f"{name}: no release for {local} in Gemfile.lock (locked platforms: {', '.join(sorted(platforms))})"
        for name, platforms in offered.items()
        if name not in chosen
    ]
    fetch, vendored, in_image = [], [], []
    for _rank, gem in chosen.values():
        if (gem.name, gem.version) in image:
            in_image.append(gem)
        elif gem.file_name in cached:
            vendored.append(gem)
        else:
            fetch.append(gem)
    return GemSelection(fetch=fetch, vendored=vendored, in_image=in_image, problems=problems)


def install_order(gems: list[LockedGem]) -> list[LockedGem]:
    """Dependencies before their dependents (a native extension's build may need them); stable otherwise."""
    by_name = {gem.name: gem for gem in gems}
    graph = {gem.name: [d for d in gem.dependencies if d in by_name] for gem in sorted(gems, key=lambda g: g.name)}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError:
        order = sorted(by_name)
    return [by_name[name] for name in order]


def gemfile_gem_names(text: str) -> tuple[list[str], list[str], bool]:
    """A Gemfile's literal `gem "name"` lines for CRuby, read as text: (names, git-sourced names, `gemspec`).

    Gems restricted to other platforms (`platforms: [:jruby]`, a `platforms :mswin do` block) and local
    `path:` gems are left out; a gem from git is returned apart.
    """
    names: list[str] = []
    from_git: list[str] = []
    uses_gemspec = False
    skip_until: str | None = None
    for line in text[:MAX_LOCK_BYTES].splitlines():
        if skip_until is not None:
            if re.match(rf"^{skip_until}end\b", line):
                skip_until = None
            continue
        block = _PLATFORMS_BLOCK.match(line)
        if block and not _CRUBY.search(block.group(2)):
            skip_until = re.escape(block.group(1))
            continue
        uses_gemspec = uses_gemspec or bool(_GEMSPEC_LINE.match(line))
        gem = _GEM_LINE.match(line)
        if gem is None:
            continue
        rest = gem.group(2).split("#", 1)[0]
        if _OPTION_PLATFORMS.search(rest) and not _CRUBY.search(rest.split("platform", 1)[1]):
            continue
        if _FOREIGN_SOURCE.search(rest):
            from_git.append(gem.group(1))
        elif not _LOCAL_PATH.search(rest):
            names.append(gem.group(1))
    return sorted(set(names)), sorted(set(from_git)), uses_gemspec


def gemspec_dependency_names(text: str) -> list[str]:
    """The literal `add_dependency` / `add_development_dependency` names of a gemspec, read as text."""
    return sorted({m.group(1) or m.group(2) for m in _GEMSPEC_DEP.finditer(text[:MAX_LOCK_BYTES])})


def is_rubygems_org(remote: str) -> bool:
    return remote.strip() in RUBYGEMS_ORG
