"""Per-project security policies: a small declarative file that can only tighten the operator's settings.

`config/policy.toml` holds defaults for every project, `config/projects/<project_id>.toml` overrides
them for one project (both optional, both operator-side: nothing in a workspace can loosen a sandbox).
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable
from enum import StrEnum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sigma_exec.errors import InvalidRequestError
from sigma_exec.settings import CoverageRule, NetworkPolicy, RerunMode, Settings, VerdictPolicy, check_host_port


class Limits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    cpus: float | None = Field(None, gt=0)
    memory_mb: int | None = Field(None, ge=64)
    pids: int | None = Field(None, ge=16)
    exec_timeout: int | None = Field(None, ge=1)
    test_timeout: int | None = Field(None, ge=1)
    build_timeout: int | None = Field(None, ge=1)
    output_cap_bytes: int | None = Field(None, ge=1024)


class Paths(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    protected: list[str] = Field(default_factory=list, description="changes here are flagged and rejected")
    read_only: list[str] = Field(default_factory=list, description="changes here are refused")


class NetworkMode(StrEnum):
    NONE = "none"  # closes the network whatever a caller asks
    ALLOWLIST = "allowlist"  # only `allow` host:port pairs, through the egress proxy


class Network(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    mode: NetworkMode | None = None  # None: no opinion
    allow: list[str] = Field(default_factory=list, description="host:port patterns, within EGRESS_ALLOWLIST")

    @field_validator("allow", mode="after")
    @classmethod
    def _host_ports(cls, value: list[str]) -> list[str]:
        return [check_host_port(entry) for entry in value]


class Verdict(BaseModel):
    """How this project's proposals are judged (over the deployment's VERDICT_POLICY and friends)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    policy: VerdictPolicy | None = None
    coverage_rule: CoverageRule | None = None
    min_coverage: float | None = Field(None, ge=0.0, le=100.0)
    baseline: bool | None = None
    rerun_failed: RerunMode | None = None


class ProjectPolicy(BaseModel):
    """One project's policy; every field optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    limits: Limits = Limits()
    paths: Paths = Paths()
    network: Network = Network()
    verdict: Verdict = Verdict()

    def merged_over(self, base: ProjectPolicy) -> ProjectPolicy:
        """This policy's values over `base`'s (an override file on top of the defaults)."""
        limits = {**base.limits.model_dump(exclude_none=True), **self.limits.model_dump(exclude_none=True)}
        paths = Paths(
            protected=[*base.paths.protected, *self.paths.protected],
            read_only=[*base.paths.read_only, *self.paths.read_only],
        )
        network = self.network if "network" in self.model_fields_set else base.network
        verdict = {**base.verdict.model_dump(exclude_none=True), **self.verdict.model_dump(exclude_none=True)}
        return ProjectPolicy(limits=Limits(**limits), paths=paths, network=network, verdict=Verdict(**verdict))


_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@cache
def _read(path: Path, mtime: float) -> ProjectPolicy:
    try:
        return ProjectPolicy.model_validate(tomllib.loads(path.read_text()))
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise InvalidRequestError(f"policy file {path} is invalid: {exc}") from exc


def _load(path: Path) -> ProjectPolicy:
    return _read(path, path.stat().st_mtime) if path.is_file() else ProjectPolicy()


def load_policy(config_dir: Path, project_id: object) -> ProjectPolicy:
    """Defaults merged with the project's override (a project id that is not a safe name has none)."""
    policy = _load(config_dir / "policy.toml")
    name = str(project_id)
    if _SAFE.match(name) and name not in (".", ".."):
        policy = _load(config_dir / "projects" / f"{name}.toml").merged_over(policy)
    return policy


def _tighter(current: float, wanted: float | None) -> float:
    return current if wanted is None else min(current, wanted)


def effective_settings(settings: Settings, policy: ProjectPolicy) -> Settings:
    """The operator's settings, tightened by the policy: a policy never loosens anything."""
    lim = policy.limits
    network = settings.SANDBOX_NETWORK
    if policy.network.mode is not None:  # "none", or an allow-list that replaces any bridge
        network = NetworkPolicy.NONE  # a policy may close the network; opening it is the operator's call
    return settings.model_copy(
        update={
            "SANDBOX_CPUS": _tighter(settings.SANDBOX_CPUS, lim.cpus),
            "SANDBOX_MEMORY_MB": int(_tighter(settings.SANDBOX_MEMORY_MB, lim.memory_mb)),
            "SANDBOX_PIDS_LIMIT": int(_tighter(settings.SANDBOX_PIDS_LIMIT, lim.pids)),
            "EXEC_TIMEOUT": int(_tighter(settings.EXEC_TIMEOUT, lim.exec_timeout)),
            "TEST_TIMEOUT": int(_tighter(settings.TEST_TIMEOUT, lim.test_timeout)),
            "BUILD_TIMEOUT": int(_tighter(settings.BUILD_TIMEOUT, lim.build_timeout)),
            "OUTPUT_CAP_BYTES": int(_tighter(settings.OUTPUT_CAP_BYTES, lim.output_cap_bytes)),
            "SANDBOX_NETWORK": network,
            "PROTECTED_PATHS": [*settings.PROTECTED_PATHS, *policy.paths.protected],
            **_verdict_overrides(policy.verdict),
        }
    )


def _verdict_overrides(verdict: Verdict) -> dict[str, object]:
    """The project's verdict choices as settings (these are the project's to make, not tightenings)."""
    names = {
        "policy": "VERDICT_POLICY",
        "coverage_rule": "COVERAGE_RULE",
        "min_coverage": "MIN_TEST_COVERAGE",
        "baseline": "BASELINE_TESTS",
        "rerun_failed": "RERUN_FAILED",
    }
    return {names[field]: value for field, value in verdict.model_dump(exclude_none=True).items()}


def path_hits(touched: Iterable[str], deleted_dirs: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The touched paths that match a glob, plus deleted directories that a glob reaches into (pure).

    Paths are workspace-relative and normalised; `fnmatch` lets `*` cross `/`, so `tests/*` matches every
    file under tests/, and `.env` or `.github/*` match dot-files like any other name.
    """
    globs = [p.strip().removeprefix("./") for p in patterns if p.strip()]
    if not globs:
        return []
    hits = {path for path in touched if any(fnmatch.fnmatchcase(path, g) for g in globs)}
    hits |= {d for d in deleted_dirs if any(g.startswith(d + "/") for g in globs)}
    # A directory hit with a deeper hit under it adds nothing (`.github/workflows` for `.github/workflows/ci.yml`).
    return sorted(h for h in hits if not any(other.startswith(h + "/") for other in hits))
