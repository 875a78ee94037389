"""Fetching on the host with the ordinary clients, as the operator configured them, running no project code.

pip downloads wheels only (`--only-binary=:all:`, so no `setup.py` and no build backend runs on the host) for
the sandbox's interpreter and platform; npm installs with `--ignore-scripts` (lifecycle scripts run later,
offline, in the build sandbox). Both read their usual configuration (pip.conf / PIP_*, .npmrc / npm_config_*),
never a configuration that came with the project.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel, ConfigDict, Field

from sigma_exec.errors import ImageBuildError
from sigma_exec.output import sanitize_text

MAX_DIAGNOSED = 40
NO_WHEEL = "no wheel"
LOG_TAIL_CHARS = 2000


class DependencyProblem(BaseModel):
    """One requirement that cannot be had, and why."""

    model_config = ConfigDict(frozen=True)
    requirement: str
    reason: str

    def __str__(self) -> str:
        return f"{self.requirement}: {self.reason}"


class Fetched(BaseModel):
    """What a fetch produced: artifact paths on the host, or the problems that stopped it."""

    model_config = ConfigDict(frozen=True)
    files: list[str] = Field(default_factory=list)
    problems: list[DependencyProblem] = Field(default_factory=list)
    log: str = ""


class PyTarget(BaseModel):
    """The sandbox interpreter wheels are chosen for."""

    model_config = ConfigDict(frozen=True)
    python: str  # "3.11"
    machine: str  # "x86_64"
    glibc: str = ""  # "2.36"; empty for a non-glibc image

    def pip_args(self) -> list[str]:
        major, minor = self.python.split(".")[:2]
        args = ["--python-version", f"{major}.{minor}", "--implementation", "cp"]
        for abi in (f"cp{major}{minor}", "abi3", "none"):
            args += ["--abi", abi]
        for platform in self.platforms():
            args += ["--platform", platform]
        return args

    def platforms(self) -> list[str]:
        arch = self.machine
        tags: list[str] = []
        if self.glibc:
            glibc_minor = int(self.glibc.split(".")[1])
            tags += [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor, 4, -1)]
            legacy = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
            tags += [f"{name}_{arch}" for name, need in legacy.items() if glibc_minor >= need]
        return [*tags, f"linux_{arch}"]


POLL_S = 1.0
EXIT_TIMEOUT, EXIT_TOO_BIG = 124, 125


def _tree_bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        for dirpath, _dirs, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _run(
    argv: list[str],
    cwd: Path,
    timeout_s: float,
    *,
    watch: list[Path] | None = None,
    max_bytes: int = 0,
    extra_env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run a registry client; stop it at the deadline, or when what it writes under `watch` passes `max_bytes`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGMA_")} | (extra_env or {})
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except FileNotFoundError:
            return 127, f"{argv[0]} is not installed on this worker"
        code: int | None = None
        while code is None:
            try:
                code = proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                if time.monotonic() - started > timeout_s:
                    _kill(proc)
                    return EXIT_TIMEOUT, f"took longer than {int(timeout_s)}s"
                if watch and max_bytes and _tree_bytes(watch) > max_bytes:
                    _kill(proc)
                    return EXIT_TOO_BIG, f"downloads passed the limit of {max_bytes // 2**20} MiB (DEPS_MAX_MB)"
        out.seek(0)
        text = out.read(8 * 1024 * 1024).decode(errors="replace")
    return code, text


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _tail(text: str, chars: int = LOG_TAIL_CHARS) -> str:
    return sanitize_text(text[-chars:])


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---- pip --------------------------------------------------------------------------------------------
_SAVED = re.compile(r"^\s*(?:Saved|File was already downloaded)\s+(\S.*?)\s*$", re.MULTILINE)


def pip_download(
    requirements: list[str],
    constraints: list[str],
    *,
    wheelhouse: Path,
    target: PyTarget,
    find_links: list[Path],
    timeout_s: float,
    max_bytes: int = 0,
) -> Fetched:
    """Wheels for `requirements` and everything they need, into the node's wheelhouse (shared by content).

    pip downloads into a private temporary directory first: watching it stops a download that grows past
    `max_bytes` while it happens, not after.
    """
    if not requirements:
        return Fetched()
    with tempfile.TemporaryDirectory(prefix="sigma-exec-pip-") as tmp:
        req_file, cons_file = Path(tmp, "requirements.txt"), Path(tmp, "constraints.txt")
        req_file.write_text("\n".join(requirements) + "\n")
        cons_file.write_text("\n".join(constraints) + "\n")
        (scratch := Path(tmp, "scratch")).mkdir()
        argv = [*_pip_base(wheelhouse, target, find_links), "-r", str(req_file), "-c", str(cons_file)]
        with _locked(wheelhouse):
            code, text = _run(
                argv, wheelhouse, timeout_s, watch=[scratch], max_bytes=max_bytes, extra_env={"TMPDIR": str(scratch)}
            )
    if code == EXIT_TOO_BIG:
        return Fetched(problems=[DependencyProblem(requirement="(all)", reason=text)])
    if code != 0:
        return Fetched(
            problems=diagnose(requirements, text, code, wheelhouse, target, find_links, timeout_s), log=_tail(text)
        )
    files = []
    for match in _SAVED.finditer(text):
        path = (wheelhouse / match.group(1)).resolve()
        if path.is_file() and path.parent == wheelhouse.resolve():
            files.append(str(path))
    total = sum(os.path.getsize(f) for f in set(files))
    if max_bytes and total > max_bytes:
        reason = f"the wheels take {total // 2**20} MiB, over the limit of {max_bytes // 2**20} MiB (DEPS_MAX_MB)"
        return Fetched(problems=[DependencyProblem(requirement="(all)", reason=reason)])
    return Fetched(files=sorted(set(files)), log=_tail(text))


def _pip_base(dest: Path, target: PyTarget, find_links: list[Path]) -> list[str]:
    argv = [sys.executable, "-m", "pip", "download", "--dest", str(dest), "--only-binary=:all:"]
    argv += ["--progress-bar", "off", "--disable-pip-version-check", "--no-input", *target.pip_args()]
    for link in find_links:
        argv += ["--find-links", str(link)]
    return argv


_NOT_FOUND = re.compile(r"Could not find a version that satisfies the requirement (\S+) \(from versions: ([^)]*)\)")


def diagnose(
    requirements: list[str],
    text: str,
    code: int,
    wheelhouse: Path,
    target: PyTarget,
    find_links: list[Path],
    timeout_s: float,
) -> list[DependencyProblem]:
    """Name each requirement that cannot be had: each is tried alone (in parallel, bounded)."""
    if code == EXIT_TIMEOUT:
        return [DependencyProblem(requirement="(all)", reason=f"the fetch {text}")]
    singles = requirements[:MAX_DIAGNOSED]

    def one(req: str) -> DependencyProblem | None:
        with tempfile.TemporaryDirectory(prefix="sigma-exec-pip-one-") as tmp:
            argv = [*_pip_base(Path(tmp), target, find_links), "--no-deps", req]
            rc, out = _run(argv, Path(tmp), timeout_s / 2)
        return None if rc == 0 else DependencyProblem(requirement=req, reason=_reason(req, out, target, timeout_s))

    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(one, singles) if p is not None]
    if problems:
        return problems
    match = _NOT_FOUND.search(text)
    if match:  # a dependency of a dependency
        req = match.group(1)
        return [DependencyProblem(requirement=req, reason=_reason(req, text, target, timeout_s))]
    conflict = [ln.strip() for ln in text.splitlines() if "conflict" in ln.lower() or ln.strip().startswith("The user")]
    reason = "the requirements conflict: " + " | ".join(conflict[:6]) if conflict else "pip failed: " + _tail(text, 600)
    return [DependencyProblem(requirement="(resolution)", reason=sanitize_text(reason[:1500]))]


def _reason(req: str, text: str, target: PyTarget, timeout_s: float) -> str:
    match = _NOT_FOUND.search(text)
    if match is None:
        lines = [ln for ln in text.splitlines() if ln.startswith("ERROR")]
        return sanitize_text(" ".join(lines)[:600] or _tail(text, 600))
    versions = [v.strip() for v in match.group(2).split(",") if v.strip() and v.strip() != "none"]
    if versions:
        return f"no version matches (wheels exist for: {', '.join(versions[-8:])})"
    if _any_release(req, timeout_s):
        return (
            f"{NO_WHEEL} for Python {target.python} on linux/{target.machine} "
            "(only source distributions or other platforms' wheels are published)"
        )
    return "not found on the index"


def _any_release(req: str, timeout_s: float) -> bool:
    """True when the index lists the project at all (any file type)."""
    try:
        name = Requirement(req).name
    except InvalidRequirement:
        return False
    argv = [sys.executable, "-m", "pip", "index", "versions", name, "--disable-pip-version-check", "--pre"]
    code, _ = _run(argv, Path(tempfile.gettempdir()), min(timeout_s, 120))
    return code == 0


# ---- npm --------------------------------------------------------------------------------------------
NPM_LOCKS = ("npm-shrinkwrap.json", "package-lock.json")
_NPM_404 = re.compile(r"'?([@\w./-]+@[^\s']*)'? is not in this registry|404 Not Found - GET \S+/(@?[\w./%-]+)")
_NPM_ETARGET = re.compile(r"No matching version found for (\S+?)\.?$", re.MULTILINE)


def npm_fetch(workspace: Path, stage: Path, local_dirs: list[str], timeout_s: float, max_bytes: int) -> Fetched:
    """`npm ci` (with a lock file) or `npm install`, scripts off, into `stage/node_modules`."""
    for name in ("package.json", *NPM_LOCKS, *local_dirs):
        source = workspace / name
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, stage / name, symlinks=True, ignore=shutil.ignore_patterns("node_modules", ".git"))
        elif source.is_file() and not source.is_symlink():
            shutil.copy2(source, stage / name)
    has_lock = any((stage / lock).is_file() for lock in NPM_LOCKS)
    options = ["--ignore-scripts", "--no-audit", "--no-fund", "--include=dev", "--include=optional"]
    options += ["--install-links", "--loglevel=error", "--no-update-notifier"]  # file: deps copied, not linked
    install = ["npm", "install", "--no-save", *options]
    code, text = _run(
        ["npm", "ci", *options] if has_lock else install,
        stage,
        timeout_s,
        watch=[stage / "node_modules"],
        max_bytes=max_bytes,
    )
    if code not in (0, EXIT_TIMEOUT, EXIT_TOO_BIG) and has_lock and "in sync" in text:
        # A lock file behind its package.json: `npm install` starts from the lock, as on a developer's machine.
        code, text = _run(install, stage, timeout_s, watch=[stage / "node_modules"], max_bytes=max_bytes)
    if code == EXIT_TOO_BIG:
        return Fetched(problems=[DependencyProblem(requirement="package.json", reason=text)])
    if code != 0:
        return Fetched(problems=_npm_problems(text, code), log=_tail(text))
    size = sum(f.stat().st_size for f in (stage / "node_modules").rglob("*") if f.is_file() and not f.is_symlink())
    if size > max_bytes:
        reason = f"node_modules takes {size // 2**20} MiB, over the {max_bytes // 2**20} MiB limit"
        return Fetched(problems=[DependencyProblem(requirement="package.json", reason=reason)])
    return Fetched(files=[str(stage)], log=_tail(text))


def _npm_problems(text: str, code: int) -> list[DependencyProblem]:
    if code == EXIT_TIMEOUT:
        return [DependencyProblem(requirement="package.json", reason=f"npm {text}")]
    problems: dict[str, str] = {}
    for match in _NPM_404.finditer(text):
        name = (match.group(1) or match.group(2) or "").replace("%2f", "/").replace("%2F", "/")
        problems.setdefault(name, "not found on the registry")
    for match in _NPM_ETARGET.finditer(text):
        problems.setdefault(match.group(1), "no version matches")
    if not problems:
        lines = [ln for ln in text.splitlines() if "npm error" in ln or "npm ERR!" in ln]
        problems["package.json"] = "npm failed: " + sanitize_text(" | ".join(lines[:8])[:1200] or _tail(text, 800))
    return [DependencyProblem(requirement=sanitize_text(k)[:200], reason=v) for k, v in problems.items()]


def npm_file_dependencies(package_json: bytes) -> list[str]:
    """Workspace-relative directories of `file:` dependencies (pure)."""
    try:
        data = json.loads(package_json)
    except (ValueError, UnicodeDecodeError):
        return []
    found = []
    for table in ("dependencies", "devDependencies", "optionalDependencies"):
        for spec in (data.get(table) or {}).values() if isinstance(data, dict) else []:
            if isinstance(spec, str) and spec.startswith("file:"):
                rel = os.path.normpath(spec.removeprefix("file:"))
                if not rel.startswith("..") and not os.path.isabs(rel):
                    found.append(rel)
    return sorted(set(found))


def fetch_npm_tools(specs: list[str], dest: Path, timeout_s: float) -> None:
    """Exact `name@version` tools from the npm registry into `dest/node_modules` (scripts off), or raise."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "package.json").write_text('{"name": "sigma-tools", "version": "1.0.0", "private": true}\n')
    argv = ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--no-package-lock", "--save=false"]
    code, text = _run([*argv, "--loglevel=error", *specs], dest, timeout_s)
    if code != 0:
        raise ImageBuildError(f"npm could not fetch the image's tools {', '.join(specs)}", _tail(text))
