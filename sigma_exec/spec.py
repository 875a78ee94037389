"""The sandbox profile as data: what a project container is created with (pure).

The Docker boundary turns a `ContainerSpec` into SDK calls; everything that
decides security lives here and is unit-tested without a daemon.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from sigma_exec import constants as c
from sigma_exec.settings import NetworkPolicy, Settings


class TmpfsVolume(BaseModel):
    """An anonymous, size-capped tmpfs-backed volume (visible to the archive API, unlike --tmpfs)."""

    model_config = ConfigDict(frozen=True)
    target: str
    size_mb: int
    uid: int
    gid: int
    mode: str = "0755"
    nr_inodes: int = 262_144

    @property
    def driver_options(self) -> dict[str, str]:
        return {
            "type": "tmpfs",
            "device": "tmpfs",
            "o": (
                f"size={self.size_mb}m,nr_inodes={self.nr_inodes},uid={self.uid},gid={self.gid},"
                f"mode={self.mode},nosuid,nodev"
            ),
        }


class ContainerSpec(BaseModel):
    """Every argument of a sandbox container's create call."""

    model_config = ConfigDict(frozen=True)

    name: str
    image: str
    command: list[str]
    user: str
    labels: dict[str, str]
    environment: dict[str, str]
    working_dir: str = c.WORKSPACE_DIR
    init: bool = True
    read_only: bool = True
    privileged: bool = False
    cap_drop: list[str] = Field(default_factory=lambda: ["ALL"])
    cap_add: list[str] = Field(default_factory=lambda: list(c.CAPS_KEPT))
    security_opt: list[str] = Field(default_factory=lambda: ["no-new-privileges:true"])
    nano_cpus: int
    mem_limit: int
    memswap_limit: int
    pids_limit: int
    ulimits: dict[str, int]
    tmpfs: dict[str, str]
    volumes: list[TmpfsVolume]
    network_mode: str = "none"
    runtime: str | None = None
    device_requests: list[dict[str, object]] = Field(default_factory=list)


_NAME_SAFE = re.compile(r"[^a-zA-Z0-9_.-]+")


def container_name(project_id: object, pipeline_id: str | None = None) -> str:
    """A readable unique name: `sigma-p<project>-<pipeline or random>`."""
    project = _NAME_SAFE.sub("-", str(project_id))[:40] or "x"
    suffix = _NAME_SAFE.sub("-", pipeline_id)[:60] if pipeline_id else uuid.uuid4().hex[:12]
    return f"sigma-p{project}-{suffix}"


def sandbox_labels(
    settings: Settings, *, project_id: object, pipeline_id: str | None, language: str, now: datetime
) -> dict[str, str]:
    """The labels stamped on every sandbox: nothing is ever unaccounted for."""
    expires = now + timedelta(seconds=settings.CONTAINER_TTL_SECONDS)
    return {
        c.LABEL_MANAGED: "1",
        c.LABEL_ROLE: c.ROLE_PROJECT,
        c.LABEL_PROJECT: str(project_id),
        c.LABEL_PIPELINE: pipeline_id or "",
        c.LABEL_NODE: settings.node,
        c.LABEL_LANGUAGE: language,
        c.LABEL_CREATED_AT: str(int(now.timestamp())),
        c.LABEL_EXPIRES_AT: str(int(expires.timestamp())),
    }


def reports_tmpfs_options(settings: Settings) -> str:
    """The parent of every run's reports directory: root's, sticky, writable but not listable (1733).

    The sandbox user creates each run's directory (a random name) in it and can remove only its own,
    but can neither list it to find a run's directory nor rename or replace it (a mount point of root's).
    """
    return (
        f"rw,noexec,nosuid,nodev,size={settings.SANDBOX_TMP_SIZE_MB}m,nr_inodes={settings.SANDBOX_TMP_INODES},mode=1733"
    )


def build_container_spec(
    settings: Settings,
    *,
    image: str,
    project_id: object,
    language: str,
    env: dict[str, str],
    pipeline_id: str | None = None,
    network: NetworkPolicy | None = None,
    now: datetime | None = None,
) -> ContainerSpec:
    """The hardened create call for one project sandbox."""
    now = now or datetime.now(UTC)
    policy = network or settings.SANDBOX_NETWORK
    tmp_opts = (
        f"rw,exec,nosuid,nodev,size={settings.SANDBOX_TMP_SIZE_MB}m,nr_inodes={settings.SANDBOX_TMP_INODES},mode=1777"
    )
    return ContainerSpec(
        name=container_name(project_id, pipeline_id),
        image=image,
        # The keep-alive is the container's own deadline: when it ends, the sandbox stops.
        command=["sleep", str(settings.CONTAINER_TTL_SECONDS)],
        user=f"{c.KEEPALIVE_UID}:{c.KEEPALIVE_GID}",
        labels=sandbox_labels(settings, project_id=project_id, pipeline_id=pipeline_id, language=language, now=now),
        environment={"HOME": c.HOME_DIR, "LANG": "C.UTF-8", **env},
        nano_cpus=int(settings.SANDBOX_CPUS * 1_000_000_000),
        mem_limit=settings.memory_bytes,
        memswap_limit=settings.memory_bytes,
        pids_limit=settings.SANDBOX_PIDS_LIMIT,
        ulimits={"nofile": settings.SANDBOX_NOFILE, "core": 0},
        tmpfs={
            "/tmp": tmp_opts,
            "/var/tmp": tmp_opts.replace(f"size={settings.SANDBOX_TMP_SIZE_MB}m", "size=16m"),
            c.REPORTS_DIR: reports_tmpfs_options(settings),
        },
        volumes=[
            TmpfsVolume(
                target=c.WORKSPACE_DIR,
                size_mb=settings.SANDBOX_WORKSPACE_SIZE_MB,
                uid=c.SANDBOX_UID,
                gid=c.SANDBOX_GID,
                nr_inodes=settings.SANDBOX_WORKSPACE_INODES,
            )
        ],
        # Opting in means the shielded sigma-bridge (ICC off, host and private ranges dropped), never Docker's default.
        network_mode="sigma-bridge" if policy == NetworkPolicy.BRIDGE else "none",
        runtime=settings.SANDBOX_RUNTIME or None,
    )
