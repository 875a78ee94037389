"""Java (Maven): pom.xml read in Python (a pom may load build extensions, so Maven never runs on the host); what
the image's Debian repository lacks is fetched from the operator's mirror or the project's own file repository,
and the build sandbox merges it into /usr/share/maven-repo, the local repository of the image's offline Maven."""

from __future__ import annotations

import json
import logging
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict

from sigma_exec.deps.http_get import Budget
from sigma_exec.deps.maven_pom import MAX_POM_BYTES, Pom, PomError, interpolate, parse_pom
from sigma_exec.deps.maven_resolve import DebianRepo, LocalRepo, Mirror, Resolver, Source, SourceError
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import DependencyError, ImageBuildError
from sigma_exec.output import sanitize_text

if TYPE_CHECKING:
    from sigma_exec.deps.layer import LayerJob

log = logging.getLogger(__name__)
MAX_REACTOR_POMS = 200
DEBIAN_REPO = "/usr/share/maven-repo"
STAGE_REPO = "m2"  # /sigma/m2 in the build sandbox
MAX_SHOWN = 10


class Reactor(BaseModel):
    """The poms of the workspace's build: the root pom.xml, its modules and their parents in the workspace."""

    model_config = ConfigDict(frozen=True)
    poms: dict[str, Pom]  # workspace-relative path -> pom
    parent_of: dict[str, str]  # a pom -> its parent pom in the workspace
    local_repos: list[str]  # workspace-relative repository directories the poms declare (file:// urls)
    notes: list[str]
    key_extra: str  # what of the poms decides the layer (a project's own version bump does not)

    def external(self) -> bool:
        """Whether the build names anything from outside itself (else it needs no layer)."""
        own = {pom.coord.ga for pom in self.poms.values()}
        for rel, pom in self.poms.items():
            if pom.parent is not None and rel not in self.parent_of:
                return True
            wanted = [d for d in pom.dependencies if d.scope != "system"] + [
                d for d in pom.managed if d.scope == "import"
            ]
            if any((d.group, d.artifact) not in own for d in wanted):
                return True
        return bool(self.local_repos)


def read_reactor(workspace: Path) -> Reactor | None:
    """The workspace's poms (modules followed, links never), or None without a readable pom.xml."""
    poms: dict[str, Pom] = {}
    raw: dict[str, bytes] = {}
    notes: list[str] = []
    queue, candidates = ["pom.xml"], set()
    while queue and len(poms) < MAX_REACTOR_POMS:
        rel = queue.pop(0)
        if rel in poms or (read := _read_pom(workspace, rel, notes)) is None:
            continue
        raw[rel], poms[rel] = read
        queue += [m for m in (_inside(posixpath.join(posixpath.dirname(rel), m)) for m in read[1].modules) if m]
        parent = _inside(posixpath.join(posixpath.dirname(rel), read[1].parent_path)) if read[1].parent else None
        if parent and parent not in poms and (workspace / parent).is_file():
            queue.append(parent)
            candidates.add(parent)
    if "pom.xml" not in poms:
        return None
    parent_of = {rel: p for rel, pom in poms.items() if (p := _reactor_parent(rel, pom, poms))}
    for rel in candidates - set(parent_of.values()):  # a relativePath that led to some other project's pom
        poms.pop(rel, None)
    local_repos = _local_repositories(workspace, poms, parent_of, notes)
    notes = list(dict.fromkeys(notes))
    keyed = {rel: pom.model_dump(mode="json", exclude=_unkeyed(raw[rel])) for rel, pom in sorted(poms.items())}
    return Reactor(
        poms=poms,
        parent_of=parent_of,
        local_repos=local_repos,
        notes=notes,
        key_extra=json.dumps(keyed, sort_keys=True),
    )


def _unkeyed(raw: bytes) -> set[str]:
    return set() if b"version}" in raw else {"version"}


def _inside(rel: str) -> str | None:
    """A normalized workspace-relative pom path, or None when it leaves the workspace."""
    path = posixpath.normpath(rel)
    if not path.endswith(".xml"):
        path = posixpath.join(path, "pom.xml")
    return None if path.startswith(("../", "/")) or path == ".." else path


def _read_pom(workspace: Path, rel: str, notes: list[str]) -> tuple[bytes, Pom] | None:
    path = workspace / rel
    if not path.is_file() or not path.resolve().is_relative_to(workspace.resolve()) or path.is_symlink():
        return None
    data = path.read_bytes()[: MAX_POM_BYTES + 1]
    try:
        return data, parse_pom(data)
    except PomError as exc:
        notes.append(f"{rel}: {exc}; its dependencies were not read")
        return None


def _reactor_parent(rel: str, pom: Pom, poms: dict[str, Pom]) -> str | None:
    if pom.parent is None:
        return None
    candidate = _inside(posixpath.join(posixpath.dirname(rel), pom.parent_path))
    if candidate in poms and candidate != rel and poms[candidate].coord.ga == pom.parent.ga:
        return candidate
    return next((r for r, p in poms.items() if r != rel and p.coord.ga == pom.parent.ga), None)


def _local_repositories(
    workspace: Path, poms: dict[str, Pom], parent_of: dict[str, str], notes: list[str]
) -> list[str]:
    """Repository directories inside the workspace the poms (or their parents) declare; other urls are noted."""
    found: list[str] = []
    root = workspace.resolve()
    for rel, pom in poms.items():
        basedir = str((workspace / posixpath.dirname(rel)).resolve())
        values = {**pom.properties, "maven.multiModuleProjectDirectory": str(root)}
        values.update({"project.basedir": basedir, "basedir": basedir})
        for url, own in _inherited_urls(rel, poms, parent_of):
            resolved = interpolate(url, values)
            directory = Path(unquote(resolved.removeprefix("file:").removeprefix("//")))
            target = directory if directory.is_absolute() else workspace / posixpath.dirname(rel) / directory
            local = resolved.startswith("file:") and target.is_dir() and not target.is_symlink()
            if local and target.resolve().is_relative_to(root):
                found.append(str(target.resolve().relative_to(root)))
            elif own:  # an inherited one is noted where it is declared
                why = "artifacts Debian lacks come from MAVEN_MIRROR_URL or a repository directory inside the workspace"
                notes.append(f"repository {sanitize_text(url)[:200]} in {rel} ignored: {why}")
    return sorted(set(found))


def _inherited_urls(rel: str, poms: dict[str, Pom], parent_of: dict[str, str]) -> list[tuple[str, bool]]:
    """The repository urls a pom declares (own=True) and those it inherits from its parents in the workspace."""
    urls: list[tuple[str, bool]] = []
    seen: set[str] = set()
    current: str | None = rel
    while current is not None and current not in seen:
        seen.add(current)
        urls += [(url, current == rel) for url in poms[current].repositories]
        current = parent_of.get(current)
    return urls


def missing_reason(mirror: bool, local_repos: bool) -> str:
    if mirror:
        return "not found on the Maven mirror (MAVEN_MIRROR_URL)"
    if local_repos:
        return (
            "not in the image's Debian repository nor in the project's own repository, and MAVEN_MIRROR_URL is not set"
        )
    return "not in the image's Debian repository, and MAVEN_MIRROR_URL is not set to fetch it from"


def debian_repository(backend: DockerBackend, box: str) -> DebianRepo:
    """The poms of the image's Debian repository, read from the build sandbox (its jars are not copied)."""
    argv = ["tar", "-c", "-f", "-", "-C", DEBIAN_REPO, "--exclude=*.jar", "."]
    code, data = backend.exec_capture(box, argv, user="0:0", cap_bytes=64 * 2**20, deadline_s=120)
    if code != 0:
        raise ImageBuildError(f"the base image's Maven repository ({DEBIAN_REPO}) could not be read")
    return DebianRepo.from_tar(data)


class MavenFetcher:
    """Artifacts Debian lacks fetched over HTTP on the host into /sigma/m2; the layer merges them into Debian's."""

    def __init__(self) -> None:
        self.reactor: Reactor | None = None

    def plan(self, job: LayerJob) -> None:
        reactor = read_reactor(job.workspace)
        if reactor is None:
            return
        self.reactor = reactor
        job.notes += reactor.notes
        job.needed = reactor.external()
        job.key_files = list(reactor.local_repos)
        job.key_extra = reactor.key_extra

    def stage(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path) -> None:
        reactor, settings = self.reactor, job.settings
        assert reactor is not None
        budget = Budget(settings.DEPS_MAX_MB * 2**20, settings.DEPS_FETCH_TIMEOUT)
        sources: list[Source] = [LocalRepo(job.workspace / d, budget) for d in reactor.local_repos]
        if settings.MAVEN_MIRROR_URL:
            try:
                sources.append(Mirror(settings.MAVEN_MIRROR_URL, budget))
            except SourceError as exc:
                raise DependencyError([str(exc)]) from exc
        reason = missing_reason(bool(settings.MAVEN_MIRROR_URL), bool(reactor.local_repos))
        (stage / STAGE_REPO).mkdir()
        debian = debian_repository(backend, box)
        resolver = Resolver(reactor.poms, reactor.parent_of, debian, sources, stage / STAGE_REPO, reason)
        resolver.run()
        problems = [sanitize_text(f"{name}: {why}")[:500] for name, why in resolver.problems.items()]
        job.unavailable(problems)
        if resolver.mapped:
            more = f" and {len(resolver.mapped) - MAX_SHOWN} more" if len(resolver.mapped) > MAX_SHOWN else ""
            shown = ", ".join(resolver.mapped[:MAX_SHOWN])
            job.notes.append(f"Debian's packaged versions used for what fetched artifacts depend on: {shown}{more}")
        log.info("maven artifacts staged", extra={"fetched": len(resolver.fetched), "mapped": len(resolver.mapped)})

    def retry_after(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path, output: str) -> bool:
        return False
