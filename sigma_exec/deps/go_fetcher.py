"""Go: the modules go.sum names, fetched from the operator's module proxy and verified against go.sum on the host.

There is no `go` binary on the worker, so the worker speaks the GOPROXY protocol itself (plain HTTP GETs of
`$proxy/<escaped module>/@v/<escaped version>.info|.mod|.zip`); a module cannot run code when it is downloaded,
and nothing is extracted on the host: every file is checked against go.sum's `h1:` hash (Go's dirhash "Hash1")
and laid out as a `file://` module proxy, from which `go` fills the layer's module cache offline in the build
sandbox. A project with `vendor/` needs no layer (its modules are already in the workspace).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from sigma_exec.deps.fetch import DependencyProblem
from sigma_exec.deps.http_get import Budget, NotFound, download
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.errors import DependencyError
from sigma_exec.output import sanitize_text

if TYPE_CHECKING:
    from sigma_exec.deps.layer import LayerJob

MAX_MANIFEST = 4 * 2**20  # go.mod / go.sum read at most
MAX_ZIP_CONTENT = 500 * 2**20  # Go's own limit on a module zip's uncompressed size
MAX_INFO = 64 * 1024
MAX_REQUEST_S = 120.0
WORKERS = 8
_ELEMENT = re.compile(r"[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*")  # no empty, leading/trailing or double dot
_VERSION = re.compile(r"v\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")
_SUM_LINE = re.compile(r"(\S+) (\S+?)(/go\.mod)? (h1:[A-Za-z0-9+/]{43}=)")


class GoModule(BaseModel):
    """One module version, as go.mod and go.sum name it."""

    model_config = ConfigDict(frozen=True)
    path: str
    version: str

    def __str__(self) -> str:
        return f"{self.path}@{self.version}"


class GoSum(BaseModel):
    """What go.sum pins: the h1: hash of each module's go.mod, and of each module's zip."""

    model_config = ConfigDict(frozen=True)
    mods: dict[GoModule, str]
    zips: dict[GoModule, str]
    bad_lines: list[str]


class GoFetched(BaseModel):
    """What a fetch laid out: the modules whose zip is there to extract, and the modules refused or missing."""

    model_config = ConfigDict(frozen=True)
    zips: list[GoModule]
    problems: list[DependencyProblem]


class GoModRequirements(BaseModel):
    """The modules go.mod requires that come from a proxy (a local folder's replacement excluded)."""

    model_config = ConfigDict(frozen=True)
    requires: list[GoModule]
    replaced: list[str]  # by another module or a local folder: go.sum pins the replacement instead
    local_replaced: list[str]


# ---- pure: escaping, hashing, manifests ---------------------------------------------------------------
def escape_path(path: str) -> str:
    """A module path as the proxy protocol spells it (`!x` for an uppercase X); raise ValueError if invalid."""
    elements = path.split("/")
    if len(path) > 500 or not all(_ELEMENT.fullmatch(e) for e in elements) or "." not in elements[0]:
        raise ValueError(f"not a valid module path: {path[:200]!r}")
    return _case_escape(path)


def escape_version(version: str) -> str:
    """A module version as the proxy protocol spells it; raise ValueError if it is not a semantic version."""
    if len(version) > 200 or not _VERSION.fullmatch(version):
        raise ValueError(f"not a valid module version: {version[:200]!r}")
    return _case_escape(version)


def _case_escape(text: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), text)


def hash1(files: Iterable[tuple[str, str]]) -> str:
    """Go's dirhash Hash1 over (file name, sha256 hex of its content) pairs."""
    summary = "".join(f"{digest}  {name}\n" for name, digest in sorted(files))
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def go_mod_hash(data: bytes) -> str:
    """The h1: hash go.sum records for a module's go.mod (`<module> <version>/go.mod h1:...`)."""
    return hash1([("go.mod", hashlib.sha256(data).hexdigest())])


def zip_hash(path: Path, module: GoModule, max_bytes: int = MAX_ZIP_CONTENT) -> str:
    """The h1: hash of a module zip; raise ValueError if it is not a module zip or holds over `max_bytes`."""
    prefix, files, total = f"{module}/", [], 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.startswith(prefix) or "\n" in info.filename:
                raise ValueError(f"the zip holds {sanitize_text(info.filename[:200])!r}, outside {prefix}")
            digest = hashlib.sha256()
            with archive.open(info) as member:
                while chunk := member.read(1 << 20):
                    total += len(chunk)
                    if total > max_bytes:
                        raise ValueError(f"the zip unpacks to over {max_bytes // 2**20} MiB")
                    digest.update(chunk)
            files.append((info.filename, digest.hexdigest()))
    if len({name for name, _ in files}) != len(files):
        raise ValueError("the zip holds a file twice")
    return hash1(files)


def parse_go_sum(text: str) -> GoSum:
    """go.sum's lines, split into go.mod hashes and zip hashes; malformed lines are kept to be reported."""
    mods: dict[GoModule, str] = {}
    zips: dict[GoModule, str] = {}
    bad: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _SUM_LINE.fullmatch(line.strip())
        try:
            if match is None:
                raise ValueError("not `<module> <version>[/go.mod] h1:<hash>`")
            escape_path(match.group(1)), escape_version(match.group(2))
        except ValueError as exc:
            bad.append(f"{sanitize_text(line[:200])} ({exc})")
            continue
        module = GoModule(path=match.group(1), version=match.group(2))
        (mods if match.group(3) else zips)[module] = match.group(4)
    return GoSum(mods=mods, zips=zips, bad_lines=bad)


def parse_go_mod(text: str) -> GoModRequirements:
    """The `require` and local `replace` directives of a go.mod (line and block forms, comments dropped)."""
    requires: list[GoModule] = []
    replaced: list[str] = []
    local: list[str] = []
    block = ""
    for raw in text.splitlines():
        words = raw.split("//", 1)[0].split()
        if not words:
            continue
        if block and words == [")"]:
            block = ""
            continue
        verb = block
        if not block and words[0] in {"require", "replace"}:
            verb, words = words[0], words[1:]
            if words == ["("]:
                block = verb
                continue
        if verb == "require" and len(words) >= 2:  # shown in errors as written: made printable, bounded
            path, version = (sanitize_text(w.strip('"'))[:300] for w in words[:2])
            requires.append(GoModule(path=path, version=version))
        elif verb == "replace" and "=>" in words:
            target = words[words.index("=>") + 1 :]
            replaced.append(words[0].strip('"'))
            if target and (target[0] in {".", ".."} or target[0].startswith(("./", "../", "/"))):
                local.append(words[0].strip('"'))
    kept = [m for m in requires if m.path not in local]
    return GoModRequirements(requires=kept, replaced=sorted(set(replaced)), local_replaced=sorted(set(local)))


def proxy_urls(setting: str) -> list[tuple[str, bool]]:
    """The operator's GOPROXY list as (base URL, try the next one on any error); `off` and `direct` skipped."""
    urls: list[tuple[str, bool]] = []
    for match in re.finditer(r"([^,|]+)([,|]?)", setting):
        url = match.group(1).strip().rstrip("/")
        if url and url not in {"off", "direct"}:
            urls.append((url, match.group(2) == "|"))
    return urls


# ---- I/O: the proxy protocol ----------------------------------------------------------------------------
def _fetch_file(proxies: list[tuple[str, bool]], rel: str, dest: Path, budget: Budget, cap: int) -> None:
    """One file from the first proxy that has it, following GOPROXY's `,` / `|` fallback rules."""
    reasons: list[str] = []
    for base, on_any_error in proxies:
        try:
            download(f"{base}/{rel}", dest, budget, request_s=MAX_REQUEST_S, cap=cap)
            return
        except NotFound as exc:
            reasons.append(f"not on the module proxy ({exc})")
        except (OSError, ValueError) as exc:
            reasons.append(f"the module proxy failed: {exc}")
            if not on_any_error:
                break
    raise OSError(sanitize_text("; ".join(reasons))[:600])


def _fetch_module(
    module: GoModule, gosum: GoSum, proxies: list[tuple[str, bool]], root: Path, budget: Budget
) -> DependencyProblem | None:
    """The .mod (and the .info and .zip when go.sum pins its zip) of one module, each checked against go.sum."""
    base = f"{escape_path(module.path)}/@v/{escape_version(module.version)}"
    (root / base).parent.mkdir(parents=True, exist_ok=True)
    try:
        if module in gosum.mods:
            _fetch_file(proxies, base + ".mod", root / (base + ".mod"), budget, MAX_MANIFEST)
            if go_mod_hash((root / (base + ".mod")).read_bytes()) != gosum.mods[module]:
                raise ValueError("its go.mod does not match the hash in go.sum (refused)")
        if module in gosum.zips:
            _fetch_file(proxies, base + ".info", root / (base + ".info"), budget, MAX_INFO)
            _check_info(root / (base + ".info"), module)
            _fetch_file(proxies, base + ".zip", root / (base + ".zip"), budget, budget.left)
            if zip_hash(root / (base + ".zip"), module) != gosum.zips[module]:
                raise ValueError("its content does not match the hash in go.sum (refused)")
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        for suffix in (".mod", ".info", ".zip"):  # nothing refused stays where `go` could read it
            (root / (base + suffix)).unlink(missing_ok=True)
        return DependencyProblem(requirement=str(module), reason=sanitize_text(str(exc))[:600])
    return None


def _check_info(path: Path, module: GoModule) -> None:
    """Keep only a well-formed .info naming this version (it carries no hash go.sum could check)."""
    try:
        info = json.loads(path.read_bytes())
    except ValueError as exc:
        raise ValueError("the proxy's .info is not JSON") from exc
    if not isinstance(info, dict) or info.get("Version") != module.version:
        raise ValueError("the proxy's .info names another version")
    stamp = info.get("Time")
    kept = {"Version": module.version, **({"Time": stamp} if isinstance(stamp, str) and len(stamp) < 40 else {})}
    path.write_text(json.dumps(kept))


def fetch_go_modules(gosum: GoSum, setting: str, root: Path, max_bytes: int, timeout_s: float) -> GoFetched:
    """Every module go.sum pins, from the proxies of `setting` into a GOPROXY layout under `root`."""
    proxies = proxy_urls(setting)
    modules = sorted(set(gosum.mods) | set(gosum.zips), key=str)
    budget = Budget(max_bytes, timeout_s)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        problems = [p for p in pool.map(lambda m: _fetch_module(m, gosum, proxies, root, budget), modules) if p]
    failed = {p.requirement for p in problems}
    return GoFetched(zips=[m for m in sorted(gosum.zips, key=str) if str(m) not in failed], problems=problems)


# ---- the fetcher -------------------------------------------------------------------------------------
def _read_head(path: Path) -> str:
    with path.open("rb") as handle:
        return handle.read(MAX_MANIFEST).decode(errors="replace")


class GoFetcher:
    """Go modules from the operator's GOPROXY, hash-checked on the host; `go` fills the module cache offline."""

    def __init__(self) -> None:
        self.gosum: GoSum | None = None

    def plan(self, job: LayerJob) -> None:
        go_mod = job.workspace / "go.mod"
        if not go_mod.is_file() or go_mod.is_symlink() or (job.workspace / "vendor").is_dir():
            return
        go_mod_plan = parse_go_mod(_read_head(go_mod))
        wanted = go_mod_plan.requires
        if not wanted:
            return
        job.needed, job.key_files = True, ["go.mod", "go.sum"]
        go_sum = job.workspace / "go.sum"
        names = ", ".join(str(m) for m in wanted[:20])
        if not go_sum.is_file() or go_sum.is_symlink():
            job.problems.append(f"go.sum is needed to fetch modules (go.mod requires {names}): run `go mod tidy`")
            return
        self.gosum = parse_go_sum(_read_head(go_sum))
        job.problems += [f"go.sum: malformed line {line}" for line in self.gosum.bad_lines[:10]]
        pinned = set(self.gosum.mods) | set(self.gosum.zips)
        unpinned = [m for m in wanted if m not in pinned and m.path not in go_mod_plan.replaced]
        job.problems += [f"{m}: not in go.sum (run `go mod tidy`)" for m in unpinned]
        if not proxy_urls(job.settings.GOPROXY):
            job.problems.append(f"no Go module proxy is configured (GOPROXY), so these modules cannot be had: {names}")

    def stage(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path) -> None:
        settings = job.settings
        if self.gosum is None or not proxy_urls(settings.GOPROXY):
            raise DependencyError(job.problems or ["no Go module proxy is configured (GOPROXY)"])
        root = stage / "go" / "proxy"
        root.mkdir(parents=True)
        fetched = fetch_go_modules(
            self.gosum, settings.GOPROXY, root, settings.DEPS_MAX_MB * 2**20, settings.DEPS_FETCH_TIMEOUT
        )
        job.unavailable([str(p) for p in fetched.problems])  # the plan's own problems were noted before the fetch
        (stage / "go" / "modules.txt").write_text("".join(f"{m}\n" for m in fetched.zips))

    def retry_after(self, backend: DockerBackend, box: str, job: LayerJob, stage: Path, output: str) -> bool:
        return False
