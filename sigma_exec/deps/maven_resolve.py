"""Which artifacts a Maven project needs beyond the image's Debian repository, fetched into a repository layout.

The rule, for the project's own dependencies and for those its fetched artifacts declare alike: an artifact
Debian packages comes from Debian (maven.sh maps the project's pinned versions to Debian's; a fetched
artifact's dependency on a version Debian lacks gets a relocation pom pointing at Debian's, as Debian's own
`3.x` poms do); any other artifact, its parent poms and the BOMs it imports come from the project's own
file repository or from the operator's mirror (`MAVEN_MIRROR_URL`), never from a repository a pom names.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import tarfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol
from xml.sax.saxutils import escape

from sigma_exec.deps.http_get import Budget, HttpStatus, NotFound, OutOfTime, OverSize, get_bytes, split_credentials
from sigma_exec.deps.maven_pom import (
    Coord,
    Dependency,
    Effective,
    Model,
    Pom,
    PomError,
    effective,
    imports,
    inherit,
    parse_pom,
)
from sigma_exec.output import sanitize_text

MAX_ARTIFACTS = 500
MAX_DEPTH = 30
MAX_PARENTS = 20  # parents and imported BOMs, nested
REQUEST_TIMEOUT_S = 60.0
_SAFE = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,199}")
_SHA1 = re.compile(rb"\s*([0-9a-fA-F]{40})(?:\s|$)")
_NX = re.compile(r"\d+\.x")


class SourceError(Exception):
    """Raised when a source of artifacts fails other than by not having one (HTTP error, size, time)."""


class OverBudget(SourceError):
    """Raised when the fetch as a whole ran out of bytes or time (ends the walk: one problem, not one per artifact)."""


class Source(Protocol):
    """Where artifacts missing from Debian's repository may come from."""

    def get(self, path: str) -> bytes | None:
        """The file at a repository-layout path, or None when this source does not have it."""


def _over_size(budget: Budget) -> OverBudget:
    return OverBudget(f"over the {budget.max_bytes // 2**20} MiB cap on fetched dependencies (DEPS_MAX_MB)")


def _out_of_time(budget: Budget) -> OverBudget:
    return OverBudget(f"the fetch took longer than {int(budget.timeout_s)}s (DEPS_FETCH_TIMEOUT)")


class DebianRepo:
    """The image's /usr/share/maven-repo: which versions it packages, and their poms."""

    def __init__(self, poms: dict[str, bytes]) -> None:
        self.poms = poms
        self.versions: dict[tuple[str, str], set[str]] = {}
        for path in poms:
            parts = path.split("/")
            if len(parts) >= 4 and parts[-1] == f"{parts[-3]}-{parts[-2]}.pom":
                self.versions.setdefault((".".join(parts[:-3]), parts[-3]), set()).add(parts[-2])

    @classmethod
    def from_tar(cls, data: bytes) -> DebianRepo:
        """Index a tar of the repository (poms as files or links to files; anything else ignored)."""
        files: dict[str, bytes] = {}
        links: dict[str, str] = {}
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                for member in tar:
                    name = posixpath.normpath(member.name)
                    if not name.endswith(".pom"):
                        continue
                    if member.issym():
                        links[name] = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
                    elif member.isfile() and member.size <= 4 * 2**20 and (handle := tar.extractfile(member)):
                        files[name] = handle.read()
        except (tarfile.TarError, EOFError):
            pass  # a truncated listing still tells what it holds
        files.update({name: files[target] for name, target in links.items() if target in files})
        return cls(files)

    def has(self, coord: Coord) -> bool:
        return coord.version in self.versions.get(coord.ga, ())

    def packages(self, ga: tuple[str, str]) -> bool:
        return ga in self.versions

    def preferred(self, ga: tuple[str, str]) -> str:
        """The version maven.sh maps a pinned one to: `debian`, else `N.x`, else the newest."""
        versions = self.versions[ga]
        if "debian" in versions:
            return "debian"
        return next((v for v in sorted(versions) if _NX.fullmatch(v)), max(versions, key=_version_key))

    def pom(self, coord: Coord) -> bytes | None:
        return self.poms.get(coord.path())


def _version_key(version: str) -> list[tuple[int, str]]:
    return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.-]", version)]


class LocalRepo:
    """A repository layout the project carries in its workspace (a pom's `file://${project.basedir}/...`)."""

    def __init__(self, root: Path, budget: Budget) -> None:
        self.root = root.resolve()
        self.budget = budget

    def get(self, path: str) -> bytes | None:
        target = self.root / path
        if target.is_symlink() or not target.is_file() or not target.resolve().is_relative_to(self.root):
            return None
        if not self.budget.take(target.stat().st_size):
            raise _over_size(self.budget)
        return target.read_bytes()


class Mirror:
    """The operator's Maven mirror over HTTP(S) (`http_get`: proxy variables and the system CA bundle apply)."""

    def __init__(self, url: str, budget: Budget) -> None:
        try:  # user:password@ in the URL becomes basic auth, never part of a logged URL
            self.base, self.auth = split_credentials(url)
        except ValueError as exc:
            raise SourceError("MAVEN_MIRROR_URL is not an http(s) URL") from exc
        self.budget = budget

    def get(self, path: str) -> bytes | None:
        data = self._get(path)
        if data is None:
            return None
        digest = self._get(path + ".sha1")
        match = _SHA1.match(digest or b"")
        if match and match.group(1).decode().lower() != hashlib.sha1(data, usedforsecurity=False).hexdigest():
            raise SourceError(f"{posixpath.basename(path)} does not match the mirror's .sha1")
        return data

    def _get(self, path: str) -> bytes | None:
        try:
            return get_bytes(f"{self.base}/{path}", self.budget, request_s=REQUEST_TIMEOUT_S, auth=self.auth)
        except NotFound:
            return None
        except HttpStatus as exc:
            raise SourceError(f"the Maven mirror answered HTTP {exc.status}") from exc
        except OverSize as exc:
            raise _over_size(self.budget) from exc
        except OutOfTime as exc:
            raise _out_of_time(self.budget) from exc
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"the Maven mirror could not be reached: {sanitize_text(str(reason))[:200]}") from exc


def relocation_pom(coord: Coord, version: str) -> bytes:
    """A pom sending `coord` to another version of the same artifact (what Debian's `N.x` poms do)."""
    g, a, v, to = (escape(x) for x in (coord.group, coord.artifact, coord.version, version))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<project><modelVersion>4.0.0</modelVersion><groupId>{g}</groupId>'
        f"<artifactId>{a}</artifactId><version>{v}</version><packaging>pom</packaging><distributionManagement>"
        f"<relocation><version>{to}</version></relocation></distributionManagement></project>\n"
    ).encode()


def valid(coord: Coord) -> bool:
    """Safe as repository path parts and URL segments (a hostile pom must not write outside the stage)."""
    return all(_SAFE.fullmatch(part) and ".." not in part for part in (coord.artifact, coord.version)) and all(
        _SAFE.fullmatch(part) for part in coord.group.split(".")
    )


def is_range(version: str) -> bool:
    return version[:1] in "[(" and version[-1:] in "])" if version else False


class Resolver:
    """Walks the project's dependencies breadth first (the nearest version wins, as in Maven) and stages, under
    `stage` in a repository layout, every pom and file that Debian's repository lacks."""

    def __init__(
        self,
        poms: dict[str, Pom],
        parent_of: dict[str, str],
        debian: DebianRepo,
        sources: list[Source],
        stage: Path,
        missing: str,
    ) -> None:
        self.poms, self.parent_of, self.debian, self.sources = poms, parent_of, debian, sources
        self.stage, self.missing = stage, missing
        self.by_ga = {pom.coord.ga: rel for rel, pom in poms.items()}
        self.models: dict[str, tuple[Model, str] | None] = {}  # key -> (model, where it came from)
        self.effectives: dict[str, Effective | None] = {}
        self.managed: dict[tuple[str, str], str] = {}
        self.files: list[tuple[Coord, str, str]] = []
        self.problems: dict[str, str] = {}
        self.fetched: list[str] = []
        self.mapped: list[str] = []

    def run(self) -> None:
        """Resolve and stage; what cannot be had is left in `problems` (requirement -> reason)."""
        try:
            roots = []
            for rel in self.poms:
                found = self._effective_of(f"workspace:{rel}", WORKSPACE)
                if found is None:
                    continue
                roots += [d for d in found.dependencies if d.scope not in ("system", "import")]
                for entry in found.managed:
                    self.managed.setdefault((entry.group, entry.artifact), entry.version)
            self._walk(roots)
            self._fetch_files()
        except OverBudget as exc:
            self.problems["(all)"] = str(exc)

    # ---- poms -------------------------------------------------------------------------------------------
    def _model(self, key: str, mode: str, depth: int = 0) -> tuple[Model, str] | None:
        """A pom and its parents: `workspace:<rel>` or a coordinate; mode says where a coordinate may come from."""
        memo = f"{key}#{mode}"
        if memo in self.models:
            return self.models[memo]
        self.models[memo] = None  # a cycle of parents ends here
        if depth > MAX_PARENTS:
            self.problems.setdefault(key[:300], f"more than {MAX_PARENTS} nested parent poms or imported BOMs")
            return None
        if key.startswith("workspace:"):
            pom, origin = self.poms[key.removeprefix("workspace:")], WORKSPACE
        else:
            loaded = self._pom(Coord.from_key(key), mode)
            if loaded is None:
                return None
            pom, origin = loaded
        parent = None
        if pom.parent is not None:
            rel = self.parent_of.get(key.removeprefix("workspace:")) if origin == WORKSPACE else None
            parent_key = f"workspace:{rel}" if rel else self._key(pom.parent)
            parent = self._model(parent_key, NEXT_MODE[origin], depth + 1)
        self.models[memo] = (inherit(pom, parent[0] if parent else None), origin)
        return self.models[memo]

    def _key(self, coord: Coord) -> str:
        rel = self.by_ga.get(coord.ga)
        return f"workspace:{rel}" if rel is not None else str(coord)

    def _effective_of(self, key: str, mode: str, depth: int = 0) -> Effective | None:
        memo = f"{key}#{mode}"
        if memo in self.effectives:
            return self.effectives[memo]
        self.effectives[memo] = None
        loaded = self._model(key, mode, depth)
        if loaded is None:
            return None
        model, origin = loaded
        boms = [self._effective_of(self._key(c), NEXT_MODE[origin], depth + 1) for c in imports(model)]
        self.effectives[memo] = effective(model, [b.managed for b in boms if b is not None])
        return self.effectives[memo]

    def _pom(self, coord: Coord, mode: str) -> tuple[Pom, str] | None:
        if not valid(coord):
            if mode != FROM_DEBIAN:
                self.problems.setdefault(str(coord)[:300], "not a valid Maven coordinate")
            return None
        data = self.debian.pom(coord)
        if data is None and mode != FETCHED and self.debian.packages(coord.ga):  # maven.sh maps it to Debian's
            data = self.debian.pom(coord.model_copy(update={"version": self.debian.preferred(coord.ga)}))
        origin = FROM_DEBIAN
        if data is None and mode != FROM_DEBIAN:
            data, origin = self._fetch(coord, coord.path()), FETCHED
        if data is None:
            return None
        try:
            return parse_pom(data), origin
        except PomError as exc:
            if origin == FETCHED:
                self.problems.setdefault(str(coord), f"its pom is {exc}")
            return None

    # ---- the dependency walk ----------------------------------------------------------------------------
    def _walk(self, roots: list[Dependency]) -> None:
        queue = deque((dep, 0, True) for dep in roots)
        seen: set[tuple[str, str, tuple[str, str] | None]] = set()
        for _step in range(MAX_ARTIFACTS * 4):
            if not queue:
                return
            dep, depth, direct = queue.popleft()
            conflict_key = (dep.group, dep.artifact, dep.file())
            if dep.coord.ga in self.by_ga or conflict_key in seen:
                continue
            seen.add(conflict_key)
            version = dep.version if direct else self.managed.get(dep.coord.ga) or dep.version
            coord = dep.coord.model_copy(update={"version": version})
            found = self._needed(coord, direct)
            if found is None:
                continue
            if found.relocation is not None and found.relocation != coord:
                seen.discard(conflict_key)  # the relocation names an exact version: no management applies
                queue.appendleft((dep.model_copy(update=found.relocation.model_dump()), depth, True))
                continue
            if (file := dep.file()) is not None:
                self.files.append((coord, *file))
            for child in found.dependencies if depth < MAX_DEPTH else ():
                transitive = child.scope in ("compile", "runtime") and not child.optional
                if transitive and not dep.excludes(child.group, child.artifact):
                    inherited = {"exclusions": (*child.exclusions, *dep.exclusions)}
                    queue.append((child.model_copy(update=inherited), depth + 1, False))
        self.problems.setdefault("(all)", f"more than {MAX_ARTIFACTS} artifacts to resolve")

    def _needed(self, coord: Coord, direct: bool) -> Effective | None:
        """The effective pom of an artifact Debian lacks (fetched); None when Debian serves it or it failed."""
        packaged = self.debian.packages(coord.ga)
        if self.debian.has(coord) or (packaged and direct):  # direct: maven.sh maps it to Debian's version
            return None
        reason = ""
        if not coord.version:
            reason = "no version is declared or managed"
        elif "${" in coord.version:
            reason = f"its version {coord.version} names an undefined property"
        elif is_range(coord.version):
            reason = f"the version range {coord.version} cannot be resolved offline; pin one version"
        if reason:
            if not packaged:
                self.problems.setdefault(f"{coord.group}:{coord.artifact}"[:300], reason)
            return None
        if packaged:  # a fetched artifact's dependency on a version Debian lacks: Debian's version instead
            target = self.debian.preferred(coord.ga)
            if valid(coord):
                self._write(coord.path(), relocation_pom(coord, target))
                self.mapped.append(f"{coord} -> {target}")
            return None
        found = self._effective_of(str(coord), FETCHED)
        if found is not None:
            self.fetched.append(str(coord))
        return found

    # ---- fetching ---------------------------------------------------------------------------------------
    def _fetch(self, coord: Coord, path: str) -> bytes | None:
        for source in self.sources:
            try:
                data = source.get(path)
            except OverBudget:
                raise
            except SourceError as exc:
                self.problems.setdefault(str(coord), str(exc))
                return None
            if data is not None:
                self._write(path, data)
                return data
        reason = self.missing if path.endswith(".pom") else f"{posixpath.basename(path)} {self.missing}"
        self.problems.setdefault(str(coord), reason)
        return None

    def _fetch_files(self) -> None:
        unique = list(dict.fromkeys(self.files))
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda item: self._fetch(item[0], item[0].path(item[1], item[2])), unique))

    def _write(self, path: str, data: bytes) -> None:
        target = self.stage / path
        if not target.resolve().is_relative_to(self.stage.resolve()):  # coordinates were checked; twice is cheap
            raise SourceError(f"{path[:200]} is outside the repository")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


WORKSPACE, DECLARED, FETCHED, FROM_DEBIAN = "workspace", "declared", "fetched", "debian"
# Where a pom's parents and imported BOMs may come from, by where the pom came from: the workspace's are mapped
# to Debian's versions like its dependencies; a fetched pom's need their exact versions; Debian's stay in Debian.
NEXT_MODE = {WORKSPACE: DECLARED, FETCHED: FETCHED, FROM_DEBIAN: FROM_DEBIAN}
