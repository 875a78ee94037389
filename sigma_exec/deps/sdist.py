"""Source distributions of requirements that publish no wheel: found and fetched on the host, never built there.

pip cannot download an sdist without preparing its metadata (running its build backend), so the file is taken
from the operator's package index (pip's `index-url` / `extra-index-url` and `cert`, as `pip config list` shows
them) through the simple repository API (PEP 691 JSON, or PEP 503 HTML), checked against its sha256, and read
as an archive: PKG-INFO's `Requires-Dist` and pyproject's `[build-system] requires` join the wheel fetch. The
sdist itself is built into a wheel by pip inside the offline install sandbox.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from urllib.parse import urljoin

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field

from sigma_exec.deps import http_get

DEFAULT_INDEX = "https://pypi.org/simple"
MAX_INDEX_PAGE = 8 * 1024 * 1024
MAX_MEMBER = 1024 * 1024
_CONFIG_LINE = re.compile(r"^(?:global|download|install|:env:)\.([\w-]+)='(.*)'$")
_ANCHOR = re.compile(r'<a\s[^>]*?href="([^"#]+)(?:#sha256=([0-9a-f]{64}))?"[^>]*>([^<]{1,300})</a>', re.IGNORECASE)
SDIST_SUFFIXES = (".tar.gz", ".zip")
DEFAULT_BUILD_REQUIRES = ["setuptools>=40.8.0", "wheel"]


class Sdist(BaseModel):
    """One fetched source distribution and what it needs, read without running it."""

    model_config = ConfigDict(frozen=True)
    requirement: str
    path: str
    requires: list[str] = Field(default_factory=list, description="Requires-Dist without extras-only lines")
    build_requires: list[str] = Field(default_factory=list)


class PipSources(BaseModel):
    """Where the operator's pip looks, read from `pip config list`."""

    model_config = ConfigDict(frozen=True)
    indexes: list[str]
    cafile: str = ""


def pip_sources() -> PipSources:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, timeout=60, check=False, text=True
    )
    values: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        match = _CONFIG_LINE.match(line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    first = values.get("index-url") or DEFAULT_INDEX
    extra = values.get("extra-index-url", "").split()
    return PipSources(indexes=[first, *extra], cafile=values.get("cert", ""))


def _candidates(page: bytes, content_type: str, name: str) -> list[tuple[str, str, str]]:
    """(file name, url, sha256) of the sdists a simple-API page lists (pure)."""
    found: list[tuple[str, str, str]] = []
    if "json" in content_type:
        doc = json.loads(page)
        for item in doc.get("files", []) if isinstance(doc, dict) else []:
            if isinstance(item, dict) and not item.get("yanked"):
                found.append((str(item.get("filename", "")), str(item.get("url", "")), _sha(item.get("hashes"))))
    else:
        for href, sha, text in _ANCHOR.findall(page.decode("utf-8", errors="replace")):
            if "data-yanked" not in text:
                found.append((text.strip(), href, sha))
    prefix = re.compile(rf"^{re.escape(name).replace('-', '[-_.]')}-", re.IGNORECASE)
    return [(f, u, h) for f, u, h in found if f.endswith(SDIST_SUFFIXES) and prefix.match(f)]


def _sha(hashes: object) -> str:
    return str(hashes.get("sha256", "")) if isinstance(hashes, dict) else ""


def _version_of(filename: str) -> Version | None:
    stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
    try:
        return Version(stem.rsplit("-", 1)[1])
    except (IndexError, InvalidVersion):
        return None


def find_and_fetch(requirement: str, dest: Path, sources: PipSources, budget: http_get.Budget) -> Sdist | None:
    """The newest sdist that satisfies `requirement` on the operator's indexes, fetched into `dest`."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return None
    name = canonicalize_name(req.name)
    for index in sources.indexes:
        url = f"{index.rstrip('/')}/{name}/"
        accept = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
        try:
            page = http_get.get_bytes(url, budget, request_s=60, accept=accept, cafile=sources.cafile)
        except (OSError, ValueError):
            continue
        kind = "json" if page[:1] == b"{" else "html"
        chosen = _best(_candidates(page[:MAX_INDEX_PAGE], kind, name), req)
        if chosen is not None:
            return _fetch(requirement, chosen, url, dest, sources, budget)
    return None


def _best(candidates: list[tuple[str, str, str]], req: Requirement) -> tuple[str, str, str] | None:
    ranked = [(v, c) for c in candidates if (v := _version_of(c[0])) is not None and req.specifier.contains(v)]
    return max(ranked, key=lambda pair: pair[0])[1] if ranked else None


def _fetch(
    requirement: str,
    chosen: tuple[str, str, str],
    page_url: str,
    dest: Path,
    sources: PipSources,
    budget: http_get.Budget,
) -> Sdist:
    filename, href, sha = chosen
    target = dest / Path(filename).name
    http_get.download(urljoin(page_url, href), target, budget, request_s=300, cafile=sources.cafile)
    data = target.read_bytes()
    if sha and hashlib.sha256(data).hexdigest() != sha:
        target.unlink()
        raise ValueError(f"{filename}: its content does not match the index's sha256 (refused)")
    pkg_info, pyproject = _members(data, filename)
    return Sdist(
        requirement=requirement,
        path=str(target),
        requires=_requires_dist(pkg_info),
        build_requires=_build_requires(pyproject),
    )


def _members(data: bytes, filename: str) -> tuple[str, str]:
    """PKG-INFO and pyproject.toml at the top of the archive (pure; bounded; links never followed)."""
    found = {"PKG-INFO": "", "pyproject.toml": ""}
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                key = info.filename.split("/", 1)[-1]
                if key in found and info.file_size <= MAX_MEMBER:
                    found[key] = archive.read(info).decode("utf-8", errors="replace")
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                key = member.name.split("/", 1)[-1]
                if key in found and member.isfile() and member.size <= MAX_MEMBER:
                    handle = archive.extractfile(member)
                    found[key] = handle.read().decode("utf-8", errors="replace") if handle else ""
    return found["PKG-INFO"], found["pyproject.toml"]


def _requires_dist(pkg_info: str) -> list[str]:
    out = []
    for line in pkg_info.splitlines():
        if line.startswith("Requires-Dist:"):
            text = line.partition(":")[2].strip()
            if "extra ==" not in text and "extra==" not in text:
                out.append(text)
    return out


def _build_requires(pyproject: str) -> list[str]:
    try:
        build = tomllib.loads(pyproject).get("build-system", {}) if pyproject else {}
    except tomllib.TOMLDecodeError:
        build = {}
    requires = build.get("requires") if isinstance(build, dict) else None
    return [str(r) for r in requires] if isinstance(requires, list) else list(DEFAULT_BUILD_REQUIRES)
