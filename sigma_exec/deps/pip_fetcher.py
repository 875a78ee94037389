"""Python: the plan from the manifests, wheels fetched for the sandbox's interpreter, an isolated venv."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sigma_exec.deps.fetch import NO_WHEEL, DependencyProblem, Fetched, PyTarget, pip_download
from sigma_exec.deps.http_get import Budget
from sigma_exec.deps.python_plan import PythonPlan, plan_python
from sigma_exec.deps.sdist import Sdist, find_and_fetch, pip_sources
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import DependencyError, ImageBuildError
from sigma_exec.settings import Settings

if TYPE_CHECKING:
    from sigma_exec.deps.layer import LayerJob

_MISSING = re.compile(r"No matching distribution found for (\S+)")
PROBE = "import sys, platform; print('%d.%d' % sys.version_info[:2], platform.machine(), platform.libc_ver()[1])"


class PipFetcher:
    """pip download (wheels only) on the host; `pip install --no-index` in the build sandbox."""

    def __init__(self) -> None:
        self.plan_: PythonPlan | None = None
        self.target: PyTarget | None = None
        self.requirements: list[str] = []
        self.fetched_late: list[str] = []

    def plan(self, job: LayerJob) -> None:
        spec = job.profile.deps
        plan = plan_python(
            job.workspace, requirement_patterns=spec.requirement_files, test_groups=spec.test_groups, runner=spec.runner
        )
        self.plan_ = plan
        job.needed = plan.needs_layer or bool(plan.problems)
        job.notes, job.problems = list(plan.notes), list(plan.problems)
        wheel_dirs = [d for d in spec.wheel_dirs if (job.workspace / d).is_dir()]
        job.key_files = [*plan.sources, *plan.local_paths, *wheel_dirs]
        job.key_extra = plan.model_dump_json(exclude={"project_version"})  # a version bump keeps the layer

    def _download(self, job: LayerJob, requirements: list[str], constraints: list[str]) -> Fetched:
        assert self.target is not None
        return pip_download(
            requirements,
            constraints,
            wheelhouse=wheelhouse(job.settings),
            target=self.target,
            find_links=[job.workspace / d for d in job.profile.deps.wheel_dirs if (job.workspace / d).is_dir()],
            timeout_s=job.settings.DEPS_FETCH_TIMEOUT,
            max_bytes=job.settings.DEPS_MAX_MB * 2**20,
        )

    def stage(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path) -> None:
        plan = self.plan_
        assert plan is not None
        self.target = probe_target(backend, box)
        requirements = list(plan.requirements)
        # Pinning the project's own version lets a dependency that needs the project (pytest needs pluggy)
        # resolve as it would beside an installed checkout; a version the index lacks falls back to no pin.
        own = [f"{plan.project_name}=={plan.project_version}"] if plan.project_name and plan.project_version else []
        constraints = [*plan.constraints, *own]
        runtime = self._download(job, requirements, constraints)
        if own and runtime.problems:
            constraints = list(plan.constraints)
            runtime = self._download(job, requirements, constraints)
        host_side = list(requirements)
        sdists = self._sdists(job, stage, runtime.problems, requirements)
        if sdists:  # requirements that publish only source: their own requirements join the wheel fetch
            built_here = {s.requirement for s in sdists}
            host_side = [r for r in requirements if r not in built_here] + [d for s in sdists for d in s.requires]
            runtime = self._download(job, host_side, constraints)
        if runtime.problems and job.settings.DEPS_BEST_EFFORT:  # leave out what cannot be had, fetch the rest
            dropped = {p.requirement for p in runtime.problems}
            job.unavailable([str(p) for p in runtime.problems])
            requirements = [r for r in requirements if r not in dropped]
            runtime = self._download(job, [r for r in host_side if r not in dropped], constraints)
        build_reqs = [*plan.build_requires, *(["wheel"] if plan.build_requires else [])]
        build_reqs += [r for sdist in sdists for r in sdist.build_requires]
        build = self._download(job, build_reqs, [])
        job.unavailable([str(p) for r in (runtime, build) for p in r.problems], runtime.log or build.log)
        link_into(stage / "wheels", runtime.files)
        link_into(stage / "build", build.files)
        lines = list(requirements)
        lines += [f"-e /workspace/{p}" if p in plan.editable_paths else f"/workspace/{p}" for p in plan.local_paths]
        if plan.install_project:
            extras = f"[{','.join(plan.project_extras)}]" if plan.project_extras else ""
            lines.append(f"-e /workspace{extras}")
        (stage / "requirements.txt").write_text("\n".join(lines) + "\n")
        (stage / "constraints.txt").write_text("\n".join(plan.constraints) + "\n")
        args = "--config-settings editable_mode=compat" if plan.setuptools_backend and plan.install_project else ""
        (stage / "pip-args").write_text(args + "\n")

    def _sdists(
        self, job: LayerJob, stage: Path, problems: list[DependencyProblem], requirements: list[str]
    ) -> list[Sdist]:
        """Fetch the source distribution of each requirement that publishes no wheel for the sandbox."""
        wanted = [p.requirement for p in problems if p.requirement in requirements and p.reason.startswith(NO_WHEEL)]
        if not wanted:
            return []
        sources = pip_sources()
        budget = Budget(job.settings.DEPS_MAX_MB * 2**20, job.settings.DEPS_FETCH_TIMEOUT)
        (stage / "wheels").mkdir(parents=True, exist_ok=True)
        found = []
        for requirement in wanted:
            try:
                sdist = find_and_fetch(requirement, stage / "wheels", sources, budget)
            except (OSError, ValueError) as exc:
                raise DependencyError([f"{requirement}: its source distribution could not be fetched: {exc}"]) from exc
            if sdist is not None:
                found.append(sdist)
                job.notes.append(f"{requirement}: no wheel published; built from its source distribution, offline")
        return found

    def retry_after(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path, output: str) -> bool:
        """A requirement only the package's computed metadata names (setup.py, dynamic build requires)."""
        from sigma_exec.deps.layer import put_stage

        missing = _MISSING.search(output)
        if missing is None or missing.group(1) in self.fetched_late or self.plan_ is None:
            return False
        requirement = missing.group(1)
        self.fetched_late.append(requirement)
        more = self._download(job, [requirement], self.plan_.constraints)
        if more.problems:
            raise DependencyError([str(p) for p in more.problems], more.log)
        with tempfile.TemporaryDirectory(prefix="sigma-exec-late-") as tmp:
            link_into(Path(tmp) / "build", more.files)
            put_stage(backend, box, Path(tmp))
        return True


def probe_target(backend: DockerBackend, box: str) -> PyTarget:
    """The interpreter and platform of the base image, asked of its own python3."""
    raw = backend.exec_bounded(box, ["python3", "-c", PROBE], user="0:0", cap_bytes=4096, deadline_s=60)
    parts = raw.output.split()
    if raw.exit_code != 0 or len(parts) < 2:
        raise ImageBuildError("the base image's python3 did not report its version", raw.output[-500:])
    return PyTarget(python=parts[0], machine=parts[1], glibc=parts[2] if len(parts) > 2 else "")


def wheelhouse(settings: Settings) -> Path:
    """This node's wheels, shared by every project (a wheel's file name names its content)."""
    return Path(settings.DEPS_CACHE_DIR or Path.home() / ".cache" / "sigma-exec" / "wheels").expanduser()


def link_into(directory: Path, files: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in files:
        target = directory / Path(name).name
        try:
            os.link(name, target)
        except OSError:
            shutil.copy2(name, target)
