"""JavaScript/TypeScript: package.json and its lock, fetched with npm (scripts off), rebuilt offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from sigma_exec.deps.fetch import npm_fetch, npm_file_dependencies
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import DependencyError

if TYPE_CHECKING:
    from sigma_exec.deps.layer import LayerJob

MAX_PACKAGE_JSON = 4 * 1024 * 1024
DEPENDENCY_TABLES = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
LOCKS = ("package-lock.json", "npm-shrinkwrap.json")


class NpmFetcher:
    """`npm ci` / `npm install --ignore-scripts` on the host; `npm rebuild` offline in the build sandbox."""

    def __init__(self) -> None:
        self.file_dirs: list[str] = []

    def plan(self, job: LayerJob) -> None:
        package = job.workspace / "package.json"
        if not package.is_file() or package.is_symlink():
            return
        raw = package.read_bytes()[:MAX_PACKAGE_JSON]
        try:
            data = json.loads(raw)
        except ValueError as exc:
            job.problems.append(f"package.json: not valid JSON: {exc}")
            job.needed = True
            return
        job.needed = isinstance(data, dict) and any(data.get(t) for t in DEPENDENCY_TABLES)
        self.file_dirs = npm_file_dependencies(raw)
        locks = [name for name in LOCKS if (job.workspace / name).is_file()]
        job.key_files = ["package.json", *locks, *self.file_dirs]
        if (job.workspace / ".npmrc").is_file():
            job.notes.append(".npmrc of the project ignored: the operator's npm configuration decides the registry")

    def stage(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path) -> None:
        settings = job.settings
        (stage / "npm").mkdir()
        fetched = npm_fetch(
            job.workspace, stage / "npm", self.file_dirs, settings.DEPS_FETCH_TIMEOUT, settings.DEPS_MAX_MB * 2**20
        )
        if fetched.problems:  # npm installs all or nothing: best effort cannot apply
            raise DependencyError([str(p) for p in fetched.problems], fetched.log)

    def retry_after(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path, output: str) -> bool:
        return False
