"""What a sandbox is: whether it is ours (its labels), its project's policy and limits, its framework.

Every unit that acts on a sandbox asks here first. Labels come from the registry, else from the engine
(a sandbox another executor created is learned once and remembered).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sigma_exec import commands
from sigma_exec import constants as c
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import ContainerNotFoundError
from sigma_exec.languages import (
    CONFIG_DIR,
    Framework,
    LanguageProfile,
    framework_by_name,
    resolve_language,
    select_framework,
)
from sigma_exec.policy import ProjectPolicy, effective_settings, load_policy
from sigma_exec.registry import SandboxRegistry
from sigma_exec.settings import Settings

EngineAccessor = Callable[[], DockerBackend]
"""The engine, or DockerUnavailableError (read at each call: availability can change)."""


@dataclass(frozen=True)
class SandboxLookup:
    """Answers about one sandbox from the registry, else the engine; raises ContainerNotFoundError."""

    settings: Settings
    engine: EngineAccessor
    registry: SandboxRegistry

    def labels(self, container_id: str) -> dict[str, str]:
        """Labels of a sigma-exec container; raise ContainerNotFoundError for anything else."""
        if not isinstance(container_id, str) or not container_id.strip():
            raise ContainerNotFoundError(str(container_id))
        known = self.registry.get(container_id)
        if known is not None:
            return known.labels
        attrs = self.engine().inspect(container_id)
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if labels.get(c.LABEL_MANAGED) != "1":
            raise ContainerNotFoundError(container_id)
        return self.registry.remember((container_id, attrs["Id"]), labels).labels

    def policy_for(self, project_id: object) -> ProjectPolicy:
        """The project's policy (operator-side files; defaults when there are none)."""
        return load_policy(Path(self.settings.POLICY_DIR) if self.settings.POLICY_DIR else CONFIG_DIR, project_id)

    def policy_of(self, container_id: str) -> ProjectPolicy:
        """The policy of the project the sandbox belongs to."""
        return self.policy_for(self.labels(container_id).get(c.LABEL_PROJECT, ""))

    def limits_of(self, container_id: str) -> Settings:
        """The settings as the sandbox's project policy narrows them."""
        return effective_settings(self.settings, self.policy_of(container_id))

    def cap(self, container_id: str, requested: int | None, field: str) -> int:
        """A requested timeout, or the default; never above the project's policy."""
        limit = int(getattr(self.limits_of(container_id), field))
        return min(requested, limit) if requested and limit < int(getattr(self.settings, field)) else requested or limit

    def profile_for(self, container_id: str, language: str | None) -> tuple[LanguageProfile, Framework]:
        """The language (asked for, else the sandbox's) and its framework (labelled, else detected)."""
        labels = self.labels(container_id)
        profile = resolve_language(language or labels.get(c.LABEL_LANGUAGE) or "")
        framework = framework_by_name(profile, labels.get(c.LABEL_FRAMEWORK))
        if framework is None or profile.name != labels.get(c.LABEL_LANGUAGE):
            framework = select_framework(profile, self._workspace_files(container_id))
        return profile, framework

    def _workspace_files(self, container_id: str) -> set[str]:
        """Workspace paths up to two levels deep, listed inside the sandbox (for framework detection)."""
        _, out = self.engine().exec_capture(
            container_id, commands.script(commands.LIST_WORKSPACE), user=c.SANDBOX_USER, cap_bytes=1 << 20
        )
        return {line.removeprefix("./") for line in out.decode(errors="replace").splitlines() if line}
