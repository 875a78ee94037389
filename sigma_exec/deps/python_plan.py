"""What a Python project needs installed, read from its manifests without running any of its code (pure).

Sources, standard declarations first: PEP 621 `[project]` (dependencies and the test/dev extras), PEP 735
`[dependency-groups]`, `setup.cfg`, literal `setup()` arguments in `setup.py` (read with `ast`, never run),
Poetry's tables, Pipfile, requirement files whose names say they are for the package, its tests or
development, and `tox.ini` deps when nothing else names test dependencies. Lock files (`poetry.lock`,
`uv.lock`, `pdm.lock`) become constraints. Index options and direct URLs in a manifest are never followed:
the operator's client configuration decides where packages come from. The readers live in
`python_manifests` (standard declarations) and `python_reqfiles` (requirement files, tox, nox).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field

from sigma_exec.deps.python_manifests import (
    DEFAULT_BUILD_REQUIRES,
    expand_extra,
    read_locks,
    read_pipfile,
    read_pyproject,
    read_setup_cfg,
    read_setup_py,
)
from sigma_exec.deps.python_reqfiles import Collector, read_manifest, read_noxfile, read_requirement_file, read_tox

SETUPTOOLS_BACKENDS = ("setuptools.build_meta", "setuptools.build_meta:__legacy__")


class PythonPlan(BaseModel):
    """Everything the fetch and the offline install need, as typed data."""

    model_config = ConfigDict(frozen=True)

    requirements: list[str] = Field(default_factory=list, description="PEP 508 strings, deduplicated")
    constraints: list[str] = Field(default_factory=list, description="pins from -c files and lock files")
    local_paths: list[str] = Field(default_factory=list, description="workspace-relative local packages")
    editable_paths: list[str] = Field(default_factory=list, description="local packages installed editable")
    build_requires: list[str] = Field(default_factory=list, description="build backends of project and paths")
    install_project: bool = False
    project_name: str = ""
    project_version: str = Field("", description="from PKG-INFO or static metadata, when known")
    project_extras: list[str] = Field(default_factory=list)
    setuptools_backend: bool = False
    sources: list[str] = Field(default_factory=list, description="manifests read")
    notes: list[str] = Field(default_factory=list, description="what was ignored, and why")
    problems: list[str] = Field(default_factory=list, description="what cannot be installed, and why")

    @property
    def needs_layer(self) -> bool:
        return bool(self.requirements or self.local_paths or self.install_project)


# ---- the plan ----------------------------------------------------------------------------------------
def requirement_files(root: Path, patterns: list[str]) -> list[str]:
    """Requirement files selected by name, shallow first (pure apart from listing two levels)."""
    found: list[str] = []
    candidates = [p.relative_to(root).as_posix() for p in (*root.glob("*.txt"), *root.glob("*/*.txt"))]
    for rel in sorted(candidates, key=lambda r: (r.count("/"), r)):
        if any(fnmatch.fnmatch(rel.lower(), pattern) for pattern in patterns):
            found.append(rel)
    return found


def plan_python(
    root: Path, *, requirement_patterns: list[str], test_groups: list[str], runner: list[str]
) -> PythonPlan:
    """Read every manifest of the workspace at `root` into one plan (no code of the project runs)."""
    col = Collector(root, test_groups)
    facts = read_pyproject(col, ".", with_tests=True) if (root / "pyproject.toml").is_file() else {}
    extras = list(facts.get("extras", []))
    extras += read_setup_cfg(col, ".", with_tests=True)
    extras += read_setup_py(col, ".", with_tests=True)
    read_pipfile(col)
    for rel in requirement_files(root, requirement_patterns):
        read_requirement_file(col, rel)
    if not col.test_found:
        read_tox(col)
        read_noxfile(col, extras)
    optional = facts.get("optional", {})
    for extra in set(extras) - set(facts.get("extras", [])):
        for text in expand_extra(optional, extra, str(facts.get("name", ""))):
            col.add(text, f"pyproject.toml [{extra}]", own_name=str(facts.get("name", "")))
    read_locks(col)
    packaged = bool(facts.get("packaged")) or (root / "setup.py").is_file() or _cfg_has_metadata(root)
    build = list(facts.get("build_requires", DEFAULT_BUILD_REQUIRES)) if packaged else []
    _local_packages(col, build)
    if packaged or col.requirements or col.local:
        names = {canonicalize_name(Requirement(r).name) for r in col.requirements}
        for tool in runner:
            if canonicalize_name(Requirement(tool).name) not in names:
                col.requirements[tool] = None
    backend = str(facts.get("backend", "setuptools.build_meta:__legacy__"))
    return PythonPlan(
        requirements=list(col.requirements),
        constraints=list(col.constraints),
        local_paths=sorted(col.local),
        editable_paths=sorted(p for p, editable in col.local.items() if editable),
        build_requires=list(dict.fromkeys(build)),
        install_project=packaged,
        project_name=_pkg_info(root, "Name") or str(facts.get("name", "")) if packaged else "",
        project_version=_pkg_info(root, "Version") or str(facts.get("version", "")) if packaged else "",
        project_extras=sorted(set(extras)),
        setuptools_backend=backend in SETUPTOOLS_BACKENDS,
        sources=list(dict.fromkeys(col.sources)),
        notes=col.notes[:50],
        problems=col.problems[:50],
    )


def _pkg_info(root: Path, field: str) -> str:
    """A field of PKG-INFO (an unpacked sdist says what it is there), canonical for names."""
    for line in (read_manifest(root / "PKG-INFO") or "").splitlines()[:50]:
        if line.startswith(f"{field}:"):
            value = line.partition(":")[2].strip()[:100]
            return canonicalize_name(value) if field == "Name" else value
    return ""


def _cfg_has_metadata(root: Path) -> bool:
    text = read_manifest(root / "setup.cfg")
    return bool(text) and "[metadata]" in (text or "") and "name" in (text or "")


def _local_packages(col: Collector, build: list[str]) -> None:
    """Each local path package's own runtime requirements and build backend join the plan."""
    done: set[str] = set()
    while pending := sorted(set(col.local) - done):
        for rel in pending:
            done.add(rel)
            facts = read_pyproject(col, rel, with_tests=False) if (col.root / rel / "pyproject.toml").is_file() else {}
            read_setup_cfg(col, rel, with_tests=False)
            read_setup_py(col, rel, with_tests=False)
            build.extend(facts.get("build_requires", DEFAULT_BUILD_REQUIRES))
