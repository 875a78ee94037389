"""Settings: one pydantic-settings object read from the environment or `.env`.

The seed's names are kept exactly (DOCKER_ENABLED, AUTO_TEST, TEST_TIMEOUT, ...).
Every setting is listed with its default in `config/.env.example`.
"""

from __future__ import annotations

import os
import re
import socket
from enum import StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def node_pool_size() -> int:
    """The default warm pool for this machine: one sandbox per two cores, between 1 and 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def node_prepared_count() -> int:
    """The default number of projects kept prepared: twice the node's default pool."""
    return 2 * node_pool_size()


NODE_SIZED = {"POOL_SIZE": node_pool_size, "POOL_PREPARED": node_prepared_count}


class NetworkPolicy(StrEnum):
    """How a sandbox reaches the network."""

    NONE = "none"
    BRIDGE = "bridge"


class ImageSource(StrEnum):
    """Where base images come from."""

    OFFLINE = "offline"  # built here from Debian packages (mmdebstrap → docker import)
    UPSTREAM = "upstream"  # official images such as python:3.12-slim, pulled from a registry


class VerdictPolicy(StrEnum):
    """How a proposal is judged against its tests (see `sigma_exec.verdicts`)."""

    ALL_GREEN = "all-green"
    NO_REGRESSIONS = "no-regressions"
    MUST_FIX = "must-fix"


class CoverageRule(StrEnum):
    """What MIN_TEST_COVERAGE means."""

    FLOOR = "floor"  # MIN_TEST_COVERAGE is a floor
    NO_DROP = "no-drop"  # coverage must not fall below the baseline's


class RerunMode(StrEnum):
    """Which failing cases are run once more to tell flaky from broken."""

    NEVER = "never"
    BASELINE = "baseline"  # re-run the baseline's failing cases once
    ALWAYS = "always"  # and the changed code's too


# One egress allow-list entry: a host pattern (fnmatch, no separators) and a port or `*`.
HOST_PORT_PATTERN = re.compile(r"^[A-Za-z0-9*?.\-\[\]!]{1,253}:(\*|[0-9]{1,5})$")


def check_host_port(entry: str) -> str:
    """Return `entry` when it is one `host:port` pattern; raise ValueError naming it otherwise."""
    if not isinstance(entry, str) or not HOST_PORT_PATTERN.match(entry.strip()):
        raise ValueError(f"egress entry {entry!r} is not one host:port pattern (e.g. pypi.org:443, *.internal:*)")
    return entry.strip().lower()


class Settings(BaseSettings):
    """All configuration of sigma-exec; inject one instance, never mutate it."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # The seed's names.
    DOCKER_ENABLED: bool = True
    DOCKER_REGISTRY: str = ""
    DOCKER_IMAGE_PREFIX: str = "sigma-exec"
    AUTO_TEST: bool = True
    TEST_TIMEOUT: int = Field(300, ge=1, description="seconds for one test run")
    MIN_TEST_COVERAGE: float = Field(0.0, ge=0.0, le=100.0, description="percent; below it → rejected")
    AUTO_BUILD: bool = True
    BUILD_TIMEOUT: int = Field(600, ge=1, description="seconds for one build")

    # Verdicts.
    VERDICT_POLICY: VerdictPolicy = VerdictPolicy.ALL_GREEN
    COVERAGE_RULE: CoverageRule = Field(
        CoverageRule.FLOOR, description="floor: MIN_TEST_COVERAGE; no-drop: not below the baseline's coverage"
    )
    BASELINE_TESTS: bool = Field(True, description="run the project's tests before the change, for transitions")
    RERUN_FAILED: RerunMode = Field(RerunMode.BASELINE, description="re-run failing cases once to find flaky ones")
    BASELINE_CACHE_TTL_SECONDS: int = Field(7 * 24 * 3600, ge=60, description="how long a baseline is reused")

    # Queue.
    CELERY_BROKER_URL: str = "redis://localhost:6379/0"
    CELERY_RESULT_BACKEND: str = "redis://localhost:6379/0"

    # Sandbox profile.
    SANDBOX_CPUS: float = Field(2.0, gt=0)
    SANDBOX_MEMORY_MB: int = Field(2048, ge=64)
    SANDBOX_PIDS_LIMIT: int = Field(512, ge=16)
    SANDBOX_NOFILE: int = Field(4096, ge=64)
    SANDBOX_TMP_SIZE_MB: int = Field(512, ge=8)
    SANDBOX_WORKSPACE_SIZE_MB: int = Field(1024, ge=8)
    SANDBOX_TMP_INODES: int = Field(65_536, ge=1024, description="files on /tmp and /var/tmp")
    SANDBOX_WORKSPACE_INODES: int = Field(262_144, ge=1024, description="files on /workspace")
    SANDBOX_NETWORK: NetworkPolicy = NetworkPolicy.NONE
    EGRESS_ALLOWLIST: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="host:port patterns a project policy may allow (through the proxy)"
    )
    SANDBOX_RUNTIME: str = Field("", description="e.g. runsc for gVisor; empty = engine default")
    EXEC_TIMEOUT: int = Field(300, ge=1, description="default seconds for execute_in_container")
    KILL_GRACE_SECONDS: int = Field(5, ge=1)
    OUTPUT_CAP_BYTES: int = Field(1024 * 1024, ge=1024, description="head+tail kept of one exec's output")
    MAX_WORKSPACE_MB: int = Field(256, ge=1, description="cap on a host workspace copied in")
    MAX_CHANGE_FILES: int = Field(10_000, ge=1)
    MAX_CHANGE_MB: int = Field(64, ge=1, description="cap on one apply_changes batch")

    # Lifetime and reaping.
    CONTAINER_TTL_SECONDS: int = Field(7200, ge=60, description="a container stops itself after this")
    REAPER_INTERVAL_SECONDS: int = Field(300, ge=10)
    POOL_SIZE: int = Field(
        default_factory=node_pool_size,
        ge=0,
        description="warm containers per image and profile; default: one per two cores (1-4); 0 = no pool",
    )
    POOL_PREPARED: int = Field(
        default_factory=node_prepared_count,
        ge=0,
        description="projects kept prepared (workspace delivered, warm command run) for their next proposal, per "
        "process; default: twice the node's default POOL_SIZE; needs POOL_SIZE > 0; 0 = none",
    )
    POOL_IDLE_SECONDS: int = Field(
        900, ge=10, description="warm and prepared sandboxes of an image (a project) not used for this long are removed"
    )
    IMAGE_DISK_BUDGET_MB: int = Field(20_480, ge=0, description="sigma-exec images beyond this are collected")

    # Images.
    IMAGE_SOURCE: ImageSource = ImageSource.OFFLINE
    DEBIAN_SUITE: str = "bookworm"
    DEBIAN_MIRROR: str = ""
    ALLOW_PROJECT_DOCKERFILE: bool = False
    DEPS_CACHE_DIR: str = Field("", description="this node's fetched wheels; empty = ~/.cache/sigma-exec/wheels")
    DEPS_BEST_EFFORT: bool = Field(False, description="install what can be fetched and warn, instead of failing")
    DEPS_FETCH_TIMEOUT: int = Field(900, ge=1, description="seconds for fetching one project's dependencies")
    DEPS_MAX_MB: int = Field(1024, ge=1, description="cap on one project's fetched dependencies")
    MAVEN_MIRROR_URL: str = Field("", description="Maven repository URL for artifacts Debian lacks; empty = none")
    GEM_SOURCE: str = Field("", description="the operator's gem server (e.g. a rubygems mirror) URL; empty = none")
    GOPROXY: str = Field("", description="Go module proxies (Go's comma/pipe list); empty = Go modules not fetched")

    NODE_GPUS: int = Field(-1, ge=-1, description="-1 = detect (nvidia runtime), 0 = none, N = N GPUs")

    POLICY_DIR: str = Field("", description="policy.toml + projects/<id>.toml; empty = the repo's config/")

    # Identity of this node (a worker host with its own Docker daemon).
    SIGMA_NODE: str = ""
    # Protected test files (globs): a proposal touching them is flagged.
    PROTECTED_PATHS: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("POOL_SIZE", "POOL_PREPARED", mode="before")
    @classmethod
    def _node_sized(cls, value: object, info: ValidationInfo) -> object:
        """Empty (as config/.env.example leaves them): sized to this node."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return NODE_SIZED[str(info.field_name)]()
        return value

    @field_validator("PROTECTED_PATHS", "EGRESS_ALLOWLIST", mode="before")
    @classmethod
    def _split_globs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("EGRESS_ALLOWLIST", mode="after")
    @classmethod
    def _host_ports(cls, value: list[str]) -> list[str]:
        return [check_host_port(entry) for entry in value]

    @cached_property
    def node(self) -> str:
        """This node's name: SIGMA_NODE or the host name."""
        return self.SIGMA_NODE or socket.gethostname()

    @property
    def memory_bytes(self) -> int:
        return self.SANDBOX_MEMORY_MB * 1024 * 1024


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
