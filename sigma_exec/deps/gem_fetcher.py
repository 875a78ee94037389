"""Ruby: Gemfile.lock's gems fetched from the operator's gem source, installed offline with `gem install --local`.

No Ruby runs on the host: the lock file is read as text (`gem_lock`), the image is asked which gems it already
has (in the build sandbox, before the project is copied in), and each missing release is one plain HTTP GET of
`$GEM_SOURCE/gems/<name>-<version>[-<platform>].gem` (`http_get`: the usual proxy variables, the system CA
bundle, bounded in size and time). Gems the project carries in Bundler's `vendor/cache` are installed from there. A gem
from git, a path gem outside the workspace, or a Gemfile without a lock naming gems the image lacks is a clear
error; the source named in the project's files is never followed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from sigma_exec.deps.fetch import DependencyProblem, Fetched
from sigma_exec.deps.gem_lock import (
    NEVER_FETCHED,
    GemLock,
    GemSelection,
    LockedGem,
    gemfile_gem_names,
    gemspec_dependency_names,
    install_order,
    is_rubygems_org,
    parse_lock,
    platform_rank,
    select_gems,
)
from sigma_exec.deps.http_get import (
    Budget,
    HttpStatus,
    NotFound,
    OutOfTime,
    OverSize,
    download,
    split_credentials,
)
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import ImageBuildError
from sigma_exec.output import sanitize_text

if TYPE_CHECKING:
    from sigma_exec.deps.layer import LayerJob

MANIFESTS = (("Gemfile", "Gemfile.lock"), ("gems.rb", "gems.locked"))
CACHE_DIR = "vendor/cache"
MAX_MANIFEST = 4 * 1024 * 1024
MAX_GEMSPECS = 10
REQUEST_TIMEOUT_S = 60.0
CHUNK = 64 * 1024
PARALLEL_DOWNLOADS = 4
PROBE = 'puts Gem::Platform.local.to_s; Gem::Specification.each { |s| puts "#{s.name} #{s.version}" }'
_CACHED_FILE = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9._-]*?)-([0-9][0-9A-Za-z.]*)(?:-([A-Za-z0-9_.-]+))?\.gem$")
_PLATFORM_LINE = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
_IMAGE_GEM = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9._-]{0,99}) ([0-9][0-9A-Za-z.]{0,60})$")


class ImageGems(BaseModel):
    """What the base image's RubyGems reports: its platform and every installed (name, version)."""

    model_config = ConfigDict(frozen=True)
    platform: str
    gems: frozenset[tuple[str, str]]

    @property
    def names(self) -> set[str]:
        return {name for name, _version in self.gems}


class GemFetcher:
    """Plain HTTP GETs from GEM_SOURCE on the host; `gem install --local` in the offline build sandbox."""

    def __init__(self) -> None:
        self.lock: GemLock | None = None
        self.gemfile_names: list[str] = []
        self.cached: dict[str, Path] = {}  # vendor/cache file name → host path

    def plan(self, job: LayerJob) -> None:
        workspace = job.workspace
        gemfile, lockfile = _manifests(workspace)
        self.cached = cached_gems(workspace)
        key_files: list[str] = []
        if lockfile:
            self.lock = parse_lock(_read(workspace, lockfile))
            problems = lock_problems(self.lock, workspace)
            job.needed = any(gem.source != "PATH" for gem in self.lock.gems) or bool(problems)
            job.problems += problems
            job.notes += lock_notes(self.lock, lockfile)
            key_files.append(lockfile)
        elif gemfile:
            names, from_git, uses_gemspec = gemfile_gem_names(_read(workspace, gemfile))
            gemspecs = sorted(p.name for p in workspace.glob("*.gemspec") if p.is_file() and not p.is_symlink())
            for spec in gemspecs[:MAX_GEMSPECS] if uses_gemspec else []:
                names += gemspec_dependency_names(_read(workspace, spec))
            self.gemfile_names = sorted(set(names) - set(NEVER_FETCHED))
            job.problems += [f"{name}: {_GIT_REASON}" for name in from_git]
            job.needed = bool(self.gemfile_names or from_git)
            key_files += [gemfile, *(gemspecs[:MAX_GEMSPECS] if uses_gemspec else [])]
        if self.cached:
            job.needed = True
            key_files.append(CACHE_DIR)
        job.key_files = key_files
        if "BUNDLE_PATH" in _read(workspace, ".bundle/config"):
            job.notes.append(".bundle/config sets BUNDLE_PATH: Bundler will look for gems there, not in the layer")

    def stage(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path) -> None:
        settings = job.settings
        image = probe_image(backend, box)
        selection = self._select(image)
        problems = list(selection.problems)
        fetched = Fetched()
        if selection.fetch and not settings.GEM_SOURCE:
            problems += [f"{gem}: {_NO_SOURCE}" for gem in selection.fetch]
        elif selection.fetch:
            checksums = self.lock.checksums if self.lock else {}
            fetched = download_gems(
                settings.GEM_SOURCE,
                selection.fetch,
                stage / "gems",
                timeout_s=settings.DEPS_FETCH_TIMEOUT,
                max_bytes=settings.DEPS_MAX_MB * 2**20,
                checksums=checksums,
            )
            problems += [str(p) for p in fetched.problems]
        job.unavailable(problems, fetched.log)
        got = {Path(f).name for f in fetched.files}
        installed = [g for g in selection.fetch if g.file_name in got] + list(selection.vendored)
        (stage / "gems").mkdir(exist_ok=True)
        for gem in selection.vendored:
            shutil.copy2(self.cached[gem.file_name], stage / "gems" / gem.file_name)
        (stage / "gems.txt").write_text("".join(f"{g.file_name}\n" for g in install_order(installed)))

    def _select(self, image: ImageGems) -> GemSelection:
        cached = set(self.cached)
        if self.lock is not None:
            return select_gems(self.lock, set(image.gems), cached, image.platform)
        vendored = best_releases([gem for gem in (cached_gem(name) for name in sorted(cached)) if gem], image.platform)
        have = image.names | {gem.name for gem in vendored}
        missing = [name for name in self.gemfile_names if name not in have]
        problems = []
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            problems.append(
                f"Gemfile.lock is needed to fetch gems: {', '.join(missing)} {verb} not in the image "
                "(commit Gemfile.lock, or carry the gems in vendor/cache)"
            )
        return GemSelection(vendored=vendored, problems=problems)

    def retry_after(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path, output: str) -> bool:
        return False


_GIT_ADVICE = "publish it to the gem source, or carry it in the workspace as a path gem"
_GIT_REASON = f"comes from git, which is never fetched ({_GIT_ADVICE})"
_NO_SOURCE = "not in the image nor in vendor/cache, and no gem source is configured (set GEM_SOURCE)"


def _manifests(workspace: Path) -> tuple[str, str]:
    """The Gemfile and its lock (`Gemfile` / `Gemfile.lock`, or `gems.rb` / `gems.locked`); "" when absent."""
    for gemfile, lockfile in MANIFESTS:
        has_gemfile = (workspace / gemfile).is_file() and not (workspace / gemfile).is_symlink()
        has_lock = (workspace / lockfile).is_file() and not (workspace / lockfile).is_symlink()
        if has_gemfile or has_lock:
            return (gemfile if has_gemfile else ""), (lockfile if has_lock else "")
    return "", ""


def _read(workspace: Path, rel: str) -> str:
    """A workspace file's text (capped); "" when absent or reached through a link."""
    path = workspace / rel
    if any(p.is_symlink() for p in [path, *path.parents] if p.is_relative_to(workspace)) or not path.is_file():
        return ""
    with path.open("rb") as handle:
        return handle.read(MAX_MANIFEST).decode("utf-8", errors="replace")


def cached_gems(workspace: Path) -> dict[str, Path]:
    """The `.gem` files of Bundler's cache in the workspace (links are not followed)."""
    folder = workspace / CACHE_DIR
    if not folder.is_dir() or folder.is_symlink() or (workspace / "vendor").is_symlink():
        return {}
    return {
        p.name: p for p in sorted(folder.iterdir()) if p.is_file() and not p.is_symlink() and _CACHED_FILE.match(p.name)
    }


def cached_gem(file_name: str) -> LockedGem | None:
    """The release a vendor/cache file name stands for (`rspec-core-3.12.0.gem`, `nokogiri-1.16.0-x86_64-linux.gem`)."""
    match = _CACHED_FILE.match(file_name)
    if match is None:
        return None
    return LockedGem(name=match.group(1), version=match.group(2), platform=match.group(3) or "ruby")


def best_releases(gems: list[LockedGem], platform: str) -> list[LockedGem]:
    """One release per name and version: the image platform's before `ruby`; other platforms' are left out."""
    best: dict[tuple[str, str], tuple[int, LockedGem]] = {}
    for gem in gems:
        rank = platform_rank(gem.platform, platform)
        key = (gem.name, gem.version)
        if rank is not None and (key not in best or rank < best[key][0]):
            best[key] = (rank, gem)
    return [gem for _rank, gem in best.values()]


def lock_problems(lock: GemLock, workspace: Path) -> list[str]:
    """Gems the lock takes from somewhere that is never fetched: git, a plugin, a path outside the workspace."""
    problems: dict[str, str] = {}
    for gem in lock.gems:
        remote = sanitize_text(gem.remote)[:200]
        if gem.source == "GIT":
            problems[gem.name] = f"{gem}: comes from git ({remote}), which is never fetched ({_GIT_ADVICE})"
        elif gem.source == "PLUGIN SOURCE":
            problems[gem.name] = f"{gem}: comes from a Bundler plugin source ({remote}), which is never fetched"
        elif gem.source == "PATH":
            reason = _path_problem(remote, workspace)
            if reason:
                problems[gem.name] = f"{gem}: {reason}"
    return list(problems.values())


def _path_problem(remote: str, workspace: Path) -> str:
    rel = os.path.normpath(remote or ".")
    if os.path.isabs(rel) or rel == ".." or rel.startswith("../"):
        return f"its path {remote} is outside the workspace"
    folder = workspace / rel
    if not folder.resolve().is_relative_to(workspace) or not folder.is_dir():
        return f"its path {remote} is not a folder of the workspace"
    return ""


def lock_notes(lock: GemLock, lockfile: str) -> list[str]:
    notes = [
        f"{lockfile} names the gem source {sanitize_text(remote)[:200]}: ignored, the operator's GEM_SOURCE decides"
        for remote in sorted(set(lock.remotes))
        if not is_rubygems_org(remote)
    ]
    if lock.unread:
        notes.append(f"{lockfile}: lines not understood: {sanitize_text(' | '.join(lock.unread))[:600]}")
    return notes


def probe_image(backend: DockerBackend, box: str) -> ImageGems:
    """The base image's platform and installed gems, asked of its own RubyGems (before the project is copied)."""
    raw = backend.exec_bounded(box, ["ruby", "-e", PROBE], user="0:0", cap_bytes=512 * 1024, deadline_s=60)
    image = parse_probe(raw.output) if raw.exit_code == 0 else None
    if image is None:
        raise ImageBuildError("the base image's ruby did not list its gems", sanitize_text(raw.output[-500:]))
    return image


def parse_probe(output: str) -> ImageGems | None:
    """PROBE's output: the platform on the first line, then `name version` lines (pure)."""
    lines = output.strip().splitlines()
    if not lines or not _PLATFORM_LINE.match(lines[0].strip()):
        return None
    gems = {(m.group(1), m.group(2)) for m in (_IMAGE_GEM.match(ln.strip()) for ln in lines[1:]) if m}
    return ImageGems(platform=lines[0].strip(), gems=frozenset(gems))


# ---- fetch --------------------------------------------------------------------------------------------------
class _Failed(Exception):
    """One gem's download failed; the message is the reason shown to the user."""


def download_gems(
    source: str, gems: list[LockedGem], dest: Path, *, timeout_s: float, max_bytes: int, checksums: dict[str, str]
) -> Fetched:
    """`GET <source>/gems/<file>` for each gem into `dest`, in parallel, bounded in bytes and time."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        base, auth = split_credentials(source)
    except ValueError as exc:
        return Fetched(problems=[DependencyProblem(requirement="GEM_SOURCE", reason=f"GEM_SOURCE {exc}")])
    budget = Budget(max_bytes, timeout_s)

    def one(gem: LockedGem) -> DependencyProblem | None:
        target = dest / gem.file_name
        try:
            _download(f"{base}/gems/{quote(gem.file_name)}", auth, target, budget)
            _verify(target, checksums.get(gem.full_name, ""))
        except _Failed as exc:
            target.unlink(missing_ok=True)
            return DependencyProblem(requirement=str(gem), reason=str(exc))
        return None

    with ThreadPoolExecutor(max_workers=PARALLEL_DOWNLOADS) as pool:
        problems = [p for p in pool.map(one, gems) if p is not None]
    files = sorted(str(dest / g.file_name) for g in gems if (dest / g.file_name).is_file())
    return Fetched(files=files, problems=problems, log=f"{len(files)} gems fetched from the gem source")


def _download(url: str, auth: str, target: Path, budget: Budget) -> None:
    try:
        download(url, target, budget, request_s=REQUEST_TIMEOUT_S, auth=auth, accept="application/octet-stream")
    except NotFound as exc:
        raise _Failed("not found on the gem source (GEM_SOURCE)") from exc
    except HttpStatus as exc:
        raise _Failed(f"the gem source answered HTTP {exc.status}") from exc
    except OverSize as exc:
        raise _Failed(f"the gems take more than the {budget.max_bytes // 2**20} MiB limit (DEPS_MAX_MB)") from exc
    except OutOfTime as exc:
        late = f"the fetch took longer than {int(budget.timeout_s)}s"
        raise _Failed(f"not fetched: {late}" if exc.before else late) from exc
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        raise _Failed(f"the gem source could not be reached: {sanitize_text(str(reason))[:200]}") from exc


def _verify(path: Path, sha256: str) -> None:
    """A gem is a tar archive; with Gemfile.lock's CHECKSUMS it must also be that exact file."""
    with path.open("rb") as handle:
        head = handle.read(512)
    if head[257:262] != b"ustar":
        raise _Failed("the gem source's answer is not a gem file")
    if sha256:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise _Failed("the file differs from the sha256 in Gemfile.lock's CHECKSUMS")
