"""Images: offline base images per language and cached dependency layers per project.

Base image: `mmdebstrap --variant=minbase --include=…` piped into `docker import`,
tagged by a hash of its recipe and built only when that tag is missing.
Project image: base + dependency layer, tagged by a hash of the dependency manifests.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import io
import json
import logging
import os
import re
import shlex
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sigma_exec import constants as c
from sigma_exec.archive import _read_regular
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import ImageBuildError
from sigma_exec.languages import LanguageProfile
from sigma_exec.settings import ImageSource, Settings

log = logging.getLogger(__name__)
RECIPE_VERSION = "2"  # bump when the way images are built changes
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MAX_DEPS_BYTES = 512 * 1024 * 1024
Progress = Callable[[str], None]


def image_repo(settings: Settings, name: str) -> str:
    """`[registry/]prefix/name` for an image sigma-exec builds."""
    prefix = settings.DOCKER_IMAGE_PREFIX.strip("/")
    registry = settings.DOCKER_REGISTRY.strip("/")
    return "/".join(p for p in (registry, prefix, name) if p)


def recipe_hash(profile: LanguageProfile, settings: Settings) -> str:
    """Hash of everything that decides a base image's content."""
    payload = {
        "v": RECIPE_VERSION,
        "recipe": profile.image.model_dump(exclude_defaults=True),
        "suite": settings.DEBIAN_SUITE,
        "mirror": settings.DEBIAN_MIRROR or DEFAULT_MIRROR,
        "uid": c.SANDBOX_UID,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def base_image_ref(profile: LanguageProfile, settings: Settings) -> str:
    if settings.IMAGE_SOURCE == ImageSource.UPSTREAM:
        return profile.upstream_image
    return f"{image_repo(settings, profile.name + '-base')}:{recipe_hash(profile, settings)[:16]}"


def _file_hooks(profile: LanguageProfile, staging: str) -> list[str]:
    """Hooks that copy the recipe's files (staged on the host under `staging`) into the image."""
    hooks = []
    for index, target in enumerate(sorted(profile.image.files)):
        parent = os.path.dirname(target)
        hooks.append(f'--customize-hook=mkdir -p "$1"{shlex.quote(parent)}')
        hooks.append(f"--customize-hook=upload {os.path.join(staging, str(index))} {target}")
        hooks.append(f'--customize-hook=chmod 0644 "$1"{shlex.quote(target)}')
    return hooks


def stage_recipe_files(profile: LanguageProfile, staging: str) -> None:
    for index, target in enumerate(sorted(profile.image.files)):
        Path(staging, str(index)).write_text(profile.image.files[target])


def mmdebstrap_argv(profile: LanguageProfile, settings: Settings, out_path: str) -> list[str]:
    """The mmdebstrap call that builds a language's root filesystem (pure)."""
    mirror = settings.DEBIAN_MIRROR or DEFAULT_MIRROR
    user_hook = f'chroot "$1" useradd -u {c.SANDBOX_UID} -U -d {c.HOME_DIR} -M -s /bin/sh runner'
    cleanup_hook = 'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/*'
    # No setuid/setgid helpers in a sandbox image (su, mount, passwd, …): nothing to escalate through.
    nosuid_hook = 'find "$1" -xdev -type f -perm /6000 -exec chmod ug-s {} +'
    argv = [
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(profile.image.packages),
        f"--customize-hook={user_hook}",
        *_file_hooks(profile, os.path.dirname(out_path)),
        *[f"--customize-hook={hook}" for hook in profile.image.customize],
        f"--customize-hook={cleanup_hook}",
        f"--customize-hook={nosuid_hook}",
        settings.DEBIAN_SUITE,
        out_path,
        f"deb {mirror} {settings.DEBIAN_SUITE} main",
    ]
    argv += [f"deb {mirror} {suite} main" for suite in profile.image.extra_suites]
    return argv


def import_changes(profile: LanguageProfile) -> list[str]:
    env = {"LANG": "C.UTF-8", "HOME": c.HOME_DIR, **profile.image.env}
    return [f"ENV {k}={v}" for k, v in env.items()] + [f"WORKDIR {c.WORKSPACE_DIR}"]


BUILD_LOCK_SLOTS = 32


def build_lock_path(name: str) -> Path:
    """The lock file serialising builds of image `name` across processes (pure).

    A fixed set of slots: per-project images (dependency layers, Dockerfiles) leave no new file behind.
    Builds never nest, so two names sharing a slot only wait for each other.
    """
    slot = int(hashlib.sha256(name.encode()).hexdigest(), 16) % BUILD_LOCK_SLOTS
    return Path(tempfile.gettempdir()) / f"sigma-exec-build-{slot:02d}.lock"


@contextmanager
def _build_lock(name: str) -> Iterator[None]:
    with build_lock_path(name).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_base_image(
    backend: DockerBackend, profile: LanguageProfile, settings: Settings, progress: Progress | None = None
) -> str:
    """The base image reference, built offline first if its recipe hash is not present."""
    ref = base_image_ref(profile, settings)
    if backend.image_id(ref):
        return ref
    if settings.IMAGE_SOURCE == ImageSource.UPSTREAM:
        raise ImageBuildError(f"upstream image {ref} is not present; pull it (docker pull {ref})")
    repository, tag = ref.rsplit(":", 1)
    with _build_lock(f"{profile.name}-{tag}"):
        if backend.image_id(ref) or _pulled(backend, ref, settings, progress):
            return ref
        if progress:
            progress(f"building offline base image {ref} (mmdebstrap)")
        with tempfile.TemporaryDirectory(prefix="sigma-exec-rootfs-") as tmp:
            out = os.path.join(tmp, "rootfs.tar")
            stage_recipe_files(profile, tmp)
            _run_mmdebstrap(mmdebstrap_argv(profile, settings, out), settings.BUILD_TIMEOUT * 3)
            backend.import_image(out, repository, tag, import_changes(profile))
        _share(backend, ref, settings, progress)
    return ref


def _pulled(backend: DockerBackend, ref: str, settings: Settings, progress: Progress | None) -> bool:
    """With a registry, another node's build is reused; a registry that is down only warns."""
    if not settings.DOCKER_REGISTRY:
        return False
    problem = backend.pull(ref)
    if problem is None:
        if progress:
            progress(f"pulled {ref} from {settings.DOCKER_REGISTRY}")
        return True
    log.warning("registry: %s not pulled (%s); building locally", ref, problem)
    return False


def _share(backend: DockerBackend, ref: str, settings: Settings, progress: Progress | None) -> None:
    if not settings.DOCKER_REGISTRY:
        return
    problem = backend.push(ref)
    if problem is None:
        if progress:
            progress(f"pushed {ref} to {settings.DOCKER_REGISTRY}")
    else:
        log.warning("registry: %s not pushed (%s); the image stays local to this node", ref, problem)


def _run_mmdebstrap(argv: list[str], timeout_s: int) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError as exc:
        raise ImageBuildError("mmdebstrap is not installed: apt-get install -y mmdebstrap") from exc
    except subprocess.TimeoutExpired as exc:
        raise ImageBuildError(f"mmdebstrap took longer than {timeout_s}s") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-4000:]
        raise ImageBuildError(f"mmdebstrap failed ({proc.returncode}): {shlex.join(argv[:3])} …", tail)


# ---- dependency layer -------------------------------------------------------------------------
_PATH_DEP = re.compile(r"^\s*(?:-e\s+|--editable\s+)?(?:file:)?(\./[^\s;#]+)")


def _path_dependencies(requirements: bytes) -> list[str]:
    found = []
    for line in requirements.decode(errors="replace").splitlines():
        match = _PATH_DEP.match(line)
        if match and ".." not in match.group(1).split("/"):
            found.append(match.group(1).removeprefix("./").rstrip("/"))
    return found


def _add_tree(root: Path, rel: str, files: dict[str, bytes], budget: list[int]) -> None:
    base = root / rel
    if base.is_symlink():
        return
    if base.is_file():
        data = _read_regular(str(base), budget[0])
        budget[0] -= len(data)
        files[rel] = data
        return
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = [d for d in dirnames if d not in {".git", "__pycache__", "node_modules"}]
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            data = _read_regular(str(full), budget[0])
            budget[0] -= len(data)
            files[str(full.relative_to(root))] = data


def collect_dependency_files(workspace: Path, profile: LanguageProfile) -> dict[str, bytes]:
    """Manifests, wheel directories and local path dependencies, by relative path."""
    files: dict[str, bytes] = {}
    budget = [MAX_DEPS_BYTES]
    for pattern in profile.deps.manifests:
        for match in sorted(glob.glob(pattern, root_dir=workspace)):
            _add_tree(workspace, match, files, budget)
    for directory in profile.deps.wheel_dirs:
        if (workspace / directory).is_dir():
            _add_tree(workspace, directory, files, budget)
    for name, data in list(files.items()):
        if name.endswith(".txt"):
            for dep in _path_dependencies(data):
                if (workspace / dep).exists():
                    _add_tree(workspace, dep, files, budget)
    if "pyproject.toml" in files:
        files = _normalise_pyproject(files)
    if not _declares_requirements(files):
        return {}  # no dependency layer: the base image serves as it is
    return files


_TEST_GROUPS = ("test", "tests", "testing", "dev")


def _normalise_pyproject(files: dict[str, bytes]) -> dict[str, bytes]:
    """Keep only a pyproject's dependency lists, so a version bump or a tool setting never rebuilds."""
    import tomllib

    try:
        project = tomllib.loads(files["pyproject.toml"].decode()).get("project", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return files  # a broken pyproject is passed on as it is: its install fails honestly
    deps = [str(d) for d in project.get("dependencies", []) or []]
    optional = project.get("optional-dependencies", {}) or {}
    extra = [str(d) for group in _TEST_GROUPS for d in optional.get(group, []) or []]
    rest = {k: v for k, v in files.items() if k != "pyproject.toml"}
    if not deps and not extra:
        return rest
    body = (
        f"[project]\ndependencies = {json.dumps(deps)}\n[project.optional-dependencies]\ntest = {json.dumps(extra)}\n"
    )
    return {**rest, "pyproject.toml": body.encode()}


def _declares_requirements(files: dict[str, bytes]) -> bool:
    """True when some manifest lists at least one requirement (wheel directories alone need nothing)."""
    for name, data in files.items():
        if name == "pyproject.toml":
            return True
        if name.endswith(".txt") and "/" not in name.removeprefix("requirements/"):
            lines = data.decode(errors="replace").splitlines()
            if any(line.strip() and not line.strip().startswith("#") for line in lines):
                return True
        if name in ("package.json", "go.mod", "Gemfile", "Gemfile.lock", "pom.xml", "build.gradle"):
            return True
    return False


def dependency_hash(base_id: str, profile: LanguageProfile, files: dict[str, bytes]) -> str:
    digest = hashlib.sha256(f"{RECIPE_VERSION}\0{base_id}\0{profile.deps.install_script}\0".encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def dependency_context(base_ref: str, profile: LanguageProfile, files: dict[str, bytes]) -> bytes:
    """An in-memory docker build context: Dockerfile, install script, /sigma-deps."""
    dockerfile = (
        f"FROM {base_ref}\nCOPY sigma-deps /sigma-deps\nCOPY sigma-install.sh /sigma-install.sh\n"
        "RUN /bin/sh /sigma-install.sh && rm -f /sigma-install.sh\n"
    )
    entries = {
        "Dockerfile": dockerfile.encode(),
        "sigma-install.sh": profile.deps.install_script.encode(),
        "sigma-deps/.keep": b"",
        **{f"sigma-deps/{name}": data for name, data in files.items()},
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def ensure_project_image(
    backend: DockerBackend,
    profile: LanguageProfile,
    settings: Settings,
    workspace: Path,
    project_id: object,
    progress: Progress | None = None,
) -> tuple[str, list[str]]:
    """The image a project's sandbox runs: base, or base + cached dependency layer; plus warnings."""
    base_ref = ensure_base_image(backend, profile, settings, progress)
    dockerfile = project_dockerfile(workspace) if settings.ALLOW_PROJECT_DOCKERFILE else None
    if dockerfile is not None:
        return ensure_dockerfile_image(backend, profile, settings, workspace, dockerfile, base_ref, progress), []
    files = collect_dependency_files(workspace, profile)
    if not files or not profile.deps.install_script:
        return base_ref, []
    base_id = backend.image_id(base_ref) or base_ref
    key = dependency_hash(base_id, profile, files)
    ref = f"{image_repo(settings, profile.name + '-deps')}:{key[:20]}"
    if backend.image_id(ref):
        return ref, []
    with _build_lock(f"deps-{key[:20]}"):
        if backend.image_id(ref) or _pulled(backend, ref, settings, progress):
            return ref, []
        if progress:
            progress(f"building dependency layer {ref}")
        labels = {
            c.LABEL_MANAGED: "1",
            c.LABEL_ROLE: c.ROLE_DEPS_IMAGE,
            c.LABEL_PROJECT: str(project_id),
            c.LABEL_LANGUAGE: profile.name,
            c.LABEL_DEPS_HASH: key,
        }
        log_text = backend.build_image(
            dependency_context(base_ref, profile, files), ref, labels, settings.BUILD_TIMEOUT
        )
    _share(backend, ref, settings, progress)
    missing = [line.split(":", 1)[1].strip() for line in log_text.splitlines() if line.startswith("sigma-missing:")]
    return ref, [f"dependency unavailable offline: {m}" for m in missing]


# ---- a project's own Dockerfile ---------------------------------------------------------------------
DOCKERFILE_NAMES = (".sigma/Dockerfile", "Dockerfile")


def project_dockerfile(workspace: Path) -> str | None:
    """The project's Dockerfile (relative path), `.sigma/Dockerfile` first; links are not followed."""
    for name in DOCKERFILE_NAMES:
        path = workspace / name
        if path.is_file() and not path.is_symlink():
            return name
    return None


def ensure_dockerfile_image(
    backend: DockerBackend,
    profile: LanguageProfile,
    settings: Settings,
    workspace: Path,
    dockerfile: str,
    base_ref: str,
    progress: Progress | None = None,
) -> str:
    """Build (or reuse) the image of a project's Dockerfile, network off, time-limited, log capped.

    `ARG SIGMA_BASE` gives the Dockerfile this language's offline base image. The run-time sandbox
    profile still applies whatever the Dockerfile says (USER, capabilities, mounts, ports are ignored).
    """
    from sigma_exec.archive import workspace_tar

    context = workspace_tar(workspace, uid=0, gid=0, max_bytes=settings.MAX_WORKSPACE_MB * 1024 * 1024)
    key = hashlib.sha256(f"{RECIPE_VERSION}\0{base_ref}\0{dockerfile}\0".encode() + context).hexdigest()
    ref = f"{image_repo(settings, profile.name + '-custom')}:{key[:20]}"
    if backend.image_id(ref):
        return ref
    with _build_lock(f"custom-{key[:20]}"):
        if backend.image_id(ref) or _pulled(backend, ref, settings, progress):
            return ref
        if progress:
            progress(f"building the project's {dockerfile} as {ref}")
        labels = {c.LABEL_MANAGED: "1", c.LABEL_ROLE: "custom-image", c.LABEL_LANGUAGE: profile.name}
        backend.build_image(
            context, ref, labels, settings.BUILD_TIMEOUT, dockerfile=dockerfile, buildargs={"SIGMA_BASE": base_ref}
        )
        _share(backend, ref, settings, progress)
    return ref
