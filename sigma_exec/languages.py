"""Language profiles: data from `config/languages/*.toml`, plus workspace detection (pure)."""

from __future__ import annotations

import fnmatch
import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sigma_exec.constants import WORKSPACE_DIR
from sigma_exec.errors import UnknownLanguageError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportSpec(_Data):
    """Where a framework writes one report, relative to the reports directory."""

    kind: str
    path: str


class Framework(_Data):
    """How one test framework of a language is run and read."""

    name: str
    when_files: list[str] = Field(default_factory=list, description="globs; any present selects it")
    test_command: str
    test_env: dict[str, str] = Field(default_factory=dict)
    rerun_command: str = Field(
        "",
        description="runs only the cases whose ids are in $SIGMA_RERUN_FILE (one per line), writing the same "
        "reports as test_command; test_env applies; empty = the framework cannot re-run single cases",
    )
    reports: list[ReportSpec] = Field(default_factory=list)
    report_required: bool = Field(
        False,
        description="test_command and rerun_command always leave a report: a run of them that exits 0 without "
        "one is not a pass (an exit hook deleted it, or the process was ended early with code 0)",
    )
    coverage: list[ReportSpec] = Field(default_factory=list)
    build_command: str = ""
    warm_command: str = Field(
        "",
        description="run once in a prepared sandbox (warm pool) on the project as it is, before any proposal "
        "touches it, as the sandbox user in /workspace: fills the caches test_command and build_command use "
        "(compiled classes, build and transform caches) inside that sandbox's own writable space; its outcome "
        "is ignored; empty = nothing to warm",
    )
    resident_command: str = Field(
        "",
        description="started in a prepared sandbox after warm_command, before any proposal touches it, as the "
        "sandbox user in /workspace with the test environment's fixed variables; it returns once a process it left "
        "behind is ready to serve the sandbox's first run of test_command (a runner already loaded), which hands "
        "itself over only when that is the same as running itself; empty = none",
    )

    def fixed_test_env(self) -> dict[str, str]:
        """The test environment's variables that name no run's reports directory."""
        return {k: v.format(workspace=WORKSPACE_DIR) for k, v in self.test_env.items() if "{reports}" not in v}


class ImageRecipe(_Data):
    """An offline base image: Debian packages plus environment."""

    packages: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    extra_suites: list[str] = Field(default_factory=list, description="e.g. bookworm-backports")
    customize: list[str] = Field(default_factory=list, description="extra mmdebstrap customize hooks")
    files: dict[str, str] = Field(default_factory=dict, description="absolute path in the image → content")
    npm_tools: list[str] = Field(
        default_factory=list, description="name@version from the npm registry (no Debian package), on PATH"
    )


class DepsSpec(_Data):
    """How a project's dependencies are read, fetched and installed into its layer."""

    wheel_dirs: list[str] = Field(default_factory=list, description="workspace folders of wheels it carries")
    fetch: str = Field(
        "", description="pip | npm | go | gem | maven: fetched on the host, installed offline by layer_script"
    )
    layer_script: str = Field("", description="runs as root in the offline build sandbox; /sigma holds the fetch")
    layer_env: dict[str, str] = Field(default_factory=dict, description="image environment of the layer")
    requirement_files: list[str] = Field(default_factory=list, description="globs of requirement files read")
    test_groups: list[str] = Field(default_factory=list, description="extras / groups holding test dependencies")
    runner: list[str] = Field(default_factory=list, description="what the test command needs unless declared")


class LanguageProfile(_Data):
    """Everything sigma-exec knows about one language."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    detect_files: list[str] = Field(default_factory=list)
    upstream_image: str
    image: ImageRecipe
    deps: DepsSpec = DepsSpec()
    frameworks: list[Framework]


@cache
def load_profiles(config_dir: Path = CONFIG_DIR) -> dict[str, LanguageProfile]:
    """All profiles under `config_dir/languages`, by canonical name."""
    profiles: dict[str, LanguageProfile] = {}
    for path in sorted((config_dir / "languages").glob("*.toml")):
        with path.open("rb") as handle:
            profile = LanguageProfile.model_validate(tomllib.load(handle))
        profiles[profile.name] = profile
    return profiles


def resolve_language(language: object, config_dir: Path = CONFIG_DIR) -> LanguageProfile:
    """The profile for a name or alias (case-insensitive); raise naming the bad value."""
    profiles = load_profiles(config_dir)
    if isinstance(language, str):
        wanted = language.strip().lower()
        for profile in profiles.values():
            if wanted == profile.name or wanted in profile.aliases:
                return profile
    known = ", ".join(sorted(profiles))
    raise UnknownLanguageError(f"unknown language {language!r}; supported: {known}")


def _present(files: set[str], patterns: list[str]) -> bool:
    return any(fnmatch.filter(files, pattern) for pattern in patterns)


def list_workspace_files(workspace: Path, depth: int = 2) -> set[str]:
    """Relative paths of files up to `depth` levels deep (enough for detection)."""
    found: set[str] = set()
    base = len(workspace.parts)
    for path in workspace.rglob("*"):
        rel_parts = path.parts[base:]
        if len(rel_parts) > depth or any(p.startswith(".") and p != ".sigma" for p in rel_parts[:-1]):
            continue
        found.add("/".join(rel_parts))
    return found


def select_framework(profile: LanguageProfile, files: set[str]) -> Framework:
    """The first framework whose `when_files` match, else the profile's default (last without any)."""
    default = next((f for f in profile.frameworks if not f.when_files), profile.frameworks[0])
    for framework in profile.frameworks:
        if framework.when_files and _present(files, framework.when_files):
            return framework
    return default


def framework_by_name(profile: LanguageProfile, name: str | None) -> Framework | None:
    return next((f for f in profile.frameworks if f.name == name), None)


def detect_language(files: set[str], config_dir: Path = CONFIG_DIR) -> LanguageProfile | None:
    """The language whose detection files appear in the workspace, if exactly one stands out."""
    for profile in load_profiles(config_dir).values():
        if _present(files, profile.detect_files):
            return profile
    return None
