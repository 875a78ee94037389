"""The dependency layer of a project: fetched on the host, installed offline in a build sandbox, committed.

1. The manifests are read into a plan (no project code runs); the layer is keyed by the base image, the
   install recipe and the content of what the plan read, so an unchanged project never fetches again.
2. A build sandbox starts from the base image: network none, the project copied to a tmpfs `/workspace`,
   the fetched artifacts to a tmpfs `/sigma` (volumes are never part of the committed image).
3. The host fetches with the ordinary clients (wheels only for pip, scripts off for npm).
4. The language's `layer_script` installs offline as root inside the sandbox (install scripts run there);
   a requirement the install finds only then (computed in a setup.py) is fetched and the install retried.
5. The container is committed as the layer image; notes and warnings ride along as a label.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import tarfile
import tempfile
import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from sigma_exec import constants as c
from sigma_exec.archive import workspace_tar
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import DependencyError, ImageBuildError
from sigma_exec.image_sharing import build_lock, pulled, share
from sigma_exec.languages import LanguageProfile
from sigma_exec.output import sanitize_text
from sigma_exec.settings import Settings
from sigma_exec.spec import ContainerSpec, TmpfsVolume, build_container_spec

log = logging.getLogger(__name__)
LAYER_VERSION = "fetch-1"
LABEL_NOTES = "sigma.deps-notes"
STAGE_DIR = "/sigma"
MAX_RETRY_ROUNDS = 3
MAX_NOTES = 40
BUILD_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"]
Progress = Callable[[str], None]


class LayerJob:
    """One layer build: the plan a fetcher made from the manifests, and the notes gathered on the way."""

    def __init__(self, profile: LanguageProfile, settings: Settings, workspace: Path) -> None:
        self.profile = profile
        self.settings = settings
        self.workspace = workspace.resolve()
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.key_files: list[str] = []  # workspace-relative files and trees whose content keys the layer
        self.key_extra = ""  # anything else the plan decided (e.g. the Python plan as JSON)
        self.needed = False
        self.fetcher = fetcher_for(profile.deps.fetch)
        self.fetcher.plan(self)

    def unavailable(self, problems: list[str], log_tail: str = "") -> None:
        """What cannot be had: an error naming each one, or with DEPS_BEST_EFFORT, warnings of the layer."""
        if problems and not self.settings.DEPS_BEST_EFFORT:
            raise DependencyError(problems, log_tail)
        self.notes += [f"dependency unavailable: {p}" for p in problems]

    def key(self, base_id: str) -> str:
        recipe = [LAYER_VERSION, base_id, self.profile.deps.layer_script, self.profile.deps.layer_env, self.key_extra]
        digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
        for rel in sorted(set(self.key_files)):
            for name, data in _tree_contents(self.workspace, rel):
                digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        return digest.hexdigest()


class Fetcher(Protocol):
    """What one package manager contributes: a plan from the manifests, a fetch on the host."""

    def plan(self, job: LayerJob) -> None:
        """Set job.needed / key_files / key_extra / notes / problems from the manifests (no project code runs)."""

    def stage(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path) -> None:
        """Fetch into `stage` (copied to /sigma in the build sandbox); raise DependencyError naming what failed."""

    def retry_after(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path, output: str) -> bool:
        """After a failed install: fetch what it was missing (into `stage`) and say whether to run it again."""


def fetcher_for(kind: str) -> Fetcher:
    from sigma_exec.deps.gem_fetcher import GemFetcher
    from sigma_exec.deps.go_fetcher import GoFetcher
    from sigma_exec.deps.maven_fetcher import MavenFetcher
    from sigma_exec.deps.npm_fetcher import NpmFetcher
    from sigma_exec.deps.pip_fetcher import PipFetcher

    kinds: dict[str, Callable[[], Fetcher]] = {
        "pip": PipFetcher,
        "npm": NpmFetcher,
        "go": GoFetcher,
        "gem": GemFetcher,
        "maven": MavenFetcher,
    }
    if kind not in kinds:
        raise ImageBuildError(f"unknown dependency fetcher {kind!r} in a language profile; known: {sorted(kinds)}")
    return kinds[kind]()


def _tree_contents(root: Path, rel: str) -> Iterator[tuple[str, bytes]]:
    """What of a key file (as `_keyed` reads it) or of every file of a key tree decides the layer."""
    base = root / rel
    if base.is_symlink():
        return
    if base.is_file():
        yield rel, _keyed(rel, base.read_bytes())
        return
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in {".git", "__pycache__", "node_modules", ".venv"})
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if full.is_file() and not full.is_symlink():
                yield str(full.relative_to(root)), full.read_bytes()


def _keyed(rel: str, data: bytes) -> bytes:
    """What of a manifest decides the layer: a version bump or a tool setting does not rebuild."""
    if rel.endswith("pyproject.toml"):
        try:
            doc = tomllib.loads(data.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return data
        project = {k: v for k, v in (doc.get("project") or {}).items() if k != "version"}
        tools = doc.get("tool") or {}
        kept = {k: tools[k] for k in ("setuptools", "poetry", "hatch", "flit", "pdm", "setuptools_scm") if k in tools}
        return json.dumps(
            [project, doc.get("build-system"), doc.get("dependency-groups"), kept], sort_keys=True, default=str
        ).encode()
    if rel == "package.json":
        try:
            doc = json.loads(data)
        except ValueError:
            return data
        keep = (
            "dependencies",
            "devDependencies",
            "optionalDependencies",
            "peerDependencies",
            "overrides",
            "bundleDependencies",
            "workspaces",
            "engines",
        )
        return json.dumps({k: doc.get(k) for k in keep} if isinstance(doc, dict) else doc, sort_keys=True).encode()
    return data


def layer_key(profile: LanguageProfile, settings: Settings, workspace: Path, base_id: str) -> str | None:
    """The layer's cache key for a workspace, or None when it needs no layer (reads manifests only)."""
    job = LayerJob(profile, settings, workspace)
    return job.key(base_id) if job.needed else None


def ensure_fetched_layer(
    backend: DockerBackend,
    profile: LanguageProfile,
    settings: Settings,
    workspace: Path,
    project_id: object,
    base_ref: str,
    repo: str,
    progress: Progress | None = None,
) -> tuple[str, list[str]] | None:
    """The project's dependency image and its warnings; None when the project needs no layer."""
    job = LayerJob(profile, settings, workspace)
    if not job.needed:
        return None
    job.unavailable(job.problems)
    key = job.key(backend.image_id(base_ref) or base_ref)
    ref = f"{repo}:{key[:20]}"
    if (labels := backend.image_labels(ref)) is not None:
        return ref, stored_notes(labels)
    with build_lock(f"deps-{key[:20]}"):
        labels = backend.image_labels(ref)
        if labels is None and pulled(backend, ref, settings, progress):
            labels = backend.image_labels(ref) or {}
        if labels is not None:
            return ref, stored_notes(labels)
        if progress:
            progress(f"building dependency layer {ref}: fetching, then installing offline")
        warnings = _build(backend, job, base_ref, ref, key, project_id, progress)
    share(backend, ref, settings, progress)
    return ref, warnings


def stored_notes(labels: dict[str, str]) -> list[str]:
    """The warnings a layer was built with, from its image labels."""
    raw = labels.get(LABEL_NOTES, "")
    try:
        notes = json.loads(base64.b64decode(raw)) if raw else []
    except (ValueError, TypeError):
        return []
    return [sanitize_text(str(n))[:500] for n in notes][:MAX_NOTES] if isinstance(notes, list) else []


def build_sandbox_spec(settings: Settings, base_ref: str, project_id: object, language: str) -> ContainerSpec:
    """The install sandbox (pure): the project sandbox's profile, but root on a writable root filesystem
    (it writes /opt and /node_modules), network none whatever the settings say, tmpfs volumes for the
    project and the fetched artifacts (volumes are not part of a commit), and a deadline of its own."""
    spec = build_container_spec(settings, image=base_ref, project_id=project_id, language=language, env={})
    tmp = spec.tmpfs["/tmp"].replace(f"size={settings.SANDBOX_TMP_SIZE_MB}m", "size=2048m")
    lifetime = settings.DEPS_FETCH_TIMEOUT + settings.BUILD_TIMEOUT * (MAX_RETRY_ROUNDS + 1) + 300
    created = int(spec.labels[c.LABEL_CREATED_AT])
    return spec.model_copy(
        update={
            "name": f"sigma-deps-{uuid.uuid4().hex[:12]}",
            "command": ["sleep", str(lifetime)],
            "user": "0:0",
            "read_only": False,
            "cap_add": BUILD_CAPS,
            "network_mode": "none",
            "labels": {
                **spec.labels,
                c.LABEL_ROLE: c.ROLE_DEPS_BUILD,
                c.LABEL_EXPIRES_AT: str(created + lifetime),
            },
            "tmpfs": {**spec.tmpfs, "/tmp": tmp},
            "volumes": [
                TmpfsVolume(target=c.WORKSPACE_DIR, size_mb=settings.MAX_WORKSPACE_MB * 2, uid=0, gid=0),
                TmpfsVolume(target=STAGE_DIR, size_mb=settings.DEPS_MAX_MB * 2, uid=0, gid=0, nr_inodes=1_000_000),
            ],
        }
    )


@contextmanager
def _build_sandbox(
    backend: DockerBackend, settings: Settings, base_ref: str, project_id: object, language: str
) -> Iterator[str]:
    container_id = backend.create_container(build_sandbox_spec(settings, base_ref, project_id, language))
    try:
        backend.start(container_id)
        yield container_id
    finally:
        backend.remove(container_id)


def _build(
    backend: DockerBackend,
    job: LayerJob,
    base_ref: str,
    ref: str,
    key: str,
    project_id: object,
    progress: Progress | None,
) -> list[str]:
    settings = job.settings
    with (
        tempfile.TemporaryDirectory(prefix="sigma-exec-stage-") as tmp,
        _build_sandbox(backend, settings, base_ref, project_id, job.profile.name) as box,
    ):
        stage = Path(tmp)
        job.fetcher.stage(backend, box, job, stage)
        source = workspace_tar(job.workspace, uid=0, gid=0, max_bytes=settings.MAX_WORKSPACE_MB * 1024 * 1024)
        backend.put_archive(box, c.WORKSPACE_DIR, source)
        put_stage(backend, box, stage)
        _install(backend, box, job, stage)
        changes = [f"ENV {k}={v}" for k, v in job.profile.deps.layer_env.items()]
        notes = base64.b64encode(json.dumps(job.notes[:MAX_NOTES]).encode()).decode()
        labels = {
            c.LABEL_MANAGED: "1",
            c.LABEL_ROLE: c.ROLE_DEPS_IMAGE,
            c.LABEL_PROJECT: re.sub(r"[^\w.-]", "_", str(project_id))[:64],
            c.LABEL_LANGUAGE: job.profile.name,
            c.LABEL_DEPS_HASH: key,
            LABEL_NOTES: notes,
        }
        changes += [f'LABEL {k}="{v}"' for k, v in labels.items()]
        repository, tag = ref.rsplit(":", 1)
        backend.commit(box, repository, tag, changes)
    if progress:
        progress(f"dependency layer {ref} ready")
    return job.notes


def put_stage(backend: DockerBackend, box: str, stage: Path) -> None:
    with tempfile.TemporaryFile() as handle:
        with tarfile.open(fileobj=handle, mode="w") as tar:
            tar.add(stage, arcname=".", recursive=True, filter=_root_owned)
        handle.seek(0)
        backend.put_archive(box, STAGE_DIR, handle)  # type: ignore[arg-type]


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _install(backend: DockerBackend, box: str, job: LayerJob, stage: Path) -> None:
    """Run the layer script; when the fetcher can supply what the install was missing, run it again."""
    settings = job.settings
    for _round in range(MAX_RETRY_ROUNDS + 1):
        raw = backend.exec_bounded(
            box,
            ["/bin/sh", "-c", job.profile.deps.layer_script],
            user="0:0",
            workdir=c.WORKSPACE_DIR,
            cap_bytes=256 * 1024,
            deadline_s=settings.BUILD_TIMEOUT,
            on_deadline=["kill", "-9", "-1"],
        )
        if raw.exit_code == 0 and not raw.deadline_hit:
            return
        output = sanitize_text(raw.output)
        if raw.deadline_hit:
            raise DependencyError([f"the offline install took longer than {settings.BUILD_TIMEOUT}s"], output[-3000:])
        if not job.fetcher.retry_after(backend, box, job, stage, output):
            raise DependencyError([install_failure(output)], output[-3000:])
    raise DependencyError([f"the install still missed requirements after {MAX_RETRY_ROUNDS} fetches"])


def install_failure(output: str) -> str:
    """The last meaningful lines of a failed install, as one problem."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("ERROR", "error", "npm ERR", "npm error"))]
    shown = " | ".join((errors or lines)[-8:])
    return f"the offline install failed: {shown[-1500:]}"
