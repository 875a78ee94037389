"""Images: offline base images per language and cached dependency layers per project.

Base image: `mmdebstrap --variant=minbase --include=…` piped into `docker import`,
tagged by a hash of its recipe and built only when that tag is missing.
Project image: base + dependency layer, tagged by a hash of the dependency manifests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from sigma_exec import constants as c
from sigma_exec.deps.fetch import fetch_npm_tools
from sigma_exec.deps.layer import ensure_fetched_layer
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import ImageBuildError
from sigma_exec.image_sharing import build_lock, pulled, share
from sigma_exec.languages import LanguageProfile
from sigma_exec.settings import ImageSource, Settings

log = logging.getLogger(__name__)
RECIPE_VERSION = "2"  # bump when the way images are built changes
DEFAULT_MIRROR = "http://deb.debian.org/debian"
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


NPM_TOOLS_DIR = "/opt/sigma-tools/node"


def _npm_tool_hooks(profile: LanguageProfile, staging: str) -> list[str]:
    """Hooks that copy tools fetched from npm (staged under `staging/npm-tools`) in, with their commands."""
    if not profile.image.npm_tools:
        return []
    link = (
        f'for b in "$1"{NPM_TOOLS_DIR}/node_modules/.bin/*; do '
        f'ln -sf "{NPM_TOOLS_DIR}/node_modules/.bin/${{b##*/}}" "$1/usr/local/bin/${{b##*/}}"; done'
    )
    return [
        f'--customize-hook=mkdir -p "$1"{NPM_TOOLS_DIR}',
        f"--customize-hook=copy-in {os.path.join(staging, 'npm-tools', 'node_modules')} {NPM_TOOLS_DIR}",
        f"--customize-hook={link}",
    ]


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
        *_npm_tool_hooks(profile, os.path.dirname(out_path)),
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
    with build_lock(f"{profile.name}-{tag}"):
        if backend.image_id(ref) or pulled(backend, ref, settings, progress):
            return ref
        if progress:
            progress(f"building offline base image {ref} (mmdebstrap)")
        with tempfile.TemporaryDirectory(prefix="sigma-exec-rootfs-") as tmp:
            out = os.path.join(tmp, "rootfs.tar")
            stage_recipe_files(profile, tmp)
            if profile.image.npm_tools:
                fetch_npm_tools(profile.image.npm_tools, Path(tmp, "npm-tools"), settings.DEPS_FETCH_TIMEOUT)
            _run_mmdebstrap(mmdebstrap_argv(profile, settings, out), settings.BUILD_TIMEOUT * 3)
            backend.import_image(out, repository, tag, import_changes(profile))
        share(backend, ref, settings, progress)
    return ref


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
    if profile.deps.fetch:
        repo = image_repo(settings, profile.name + "-deps")
        layer = ensure_fetched_layer(backend, profile, settings, workspace, project_id, base_ref, repo, progress)
        if layer is not None:
            return layer
    return base_ref, []


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

    context = workspace_tar(
        workspace, uid=0, gid=0, max_bytes=settings.MAX_WORKSPACE_MB * 1024 * 1024, keep_mtime=False
    )
    key = hashlib.sha256(f"{RECIPE_VERSION}\0{base_ref}\0{dockerfile}\0".encode() + context).hexdigest()
    ref = f"{image_repo(settings, profile.name + '-custom')}:{key[:20]}"
    if backend.image_id(ref):
        return ref
    with build_lock(f"custom-{key[:20]}"):
        if backend.image_id(ref) or pulled(backend, ref, settings, progress):
            return ref
        if progress:
            progress(f"building the project's {dockerfile} as {ref}")
        labels = {c.LABEL_MANAGED: "1", c.LABEL_ROLE: "custom-image", c.LABEL_LANGUAGE: profile.name}
        backend.build_image(
            context, ref, labels, settings.BUILD_TIMEOUT, dockerfile=dockerfile, buildargs={"SIGMA_BASE": base_ref}
        )
        share(backend, ref, settings, progress)
    return ref
