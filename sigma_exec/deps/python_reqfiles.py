"""Reading Python requirement files (and tox/nox test requirements) into a collector (pure).

Index options and direct URLs are never followed: the operator's client configuration decides where packages
come from. `-r`/`-c` includes and local paths stay inside the workspace.
"""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TypeGuard

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

MAX_MANIFEST_BYTES = 2 * 1024 * 1024
MAX_INCLUDE_DEPTH = 5


class Collector:
    """Accumulates one plan while the manifests are read."""

    def __init__(self, root: Path, test_groups: list[str]) -> None:
        self.root = root
        self.test_groups = [g.lower() for g in test_groups]
        self.requirements: dict[str, None] = {}
        self.constraints: dict[str, None] = {}
        self.local: dict[str, bool] = {}
        self.build: dict[str, None] = {}
        self.sources: list[str] = []
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.test_found = False

    def pick(self, names: Iterable[object]) -> set[str]:
        """The groups of one table that hold test requirements: test-named ones, else the dev-named ones
        (a `dev` extra is often tooling — tox, pre-commit — that a test run does not need)."""
        normal = {str(n): str(n).lower().replace("_", "-") for n in names}
        tests = {n for n, low in normal.items() if low.startswith("test")}
        return tests or {n for n, low in normal.items() if low in self.test_groups}

    def add(self, text: str, origin: str, *, own_name: str = "", constraint: bool = False) -> None:
        """One PEP 508 requirement string (a declaration's, or a requirement file line's), or its problem."""
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            self.problems.append(f"{origin}: not a valid requirement {text[:200]!r}: {exc}")
            return
        if req.url:
            self._direct(req, origin)
            return
        if own_name and canonicalize_name(req.name) == own_name:
            return  # a self-reference (`pkg[other-extra]`) is expanded by the caller
        (self.constraints if constraint else self.requirements)[str(req)] = None

    def _direct(self, req: Requirement, origin: str) -> None:
        url = req.url or ""
        if url.startswith("file:"):
            self.local_path(url.removeprefix("file:").removeprefix("//"), origin, editable=False)
        else:
            self.problems.append(
                f"{origin}: {req.name}: direct URL requirements are not fetched ({url[:200]}); "
                "publish it to the configured index or vendor it as a local path"
            )

    def local_path(self, raw: str, origin: str, *, editable: bool, base: PurePosixPath | None = None) -> None:
        rel = inside_workspace((base or PurePosixPath()) / raw.strip())
        if rel is None or not (self.root / rel).is_dir():
            self.problems.append(f"{origin}: local path dependency {raw[:200]!r} is not a directory in the workspace")
            return
        if rel != ".":
            self.local[rel] = self.local.get(rel, False) or editable


def inside_workspace(path: PurePosixPath) -> str | None:
    """A workspace-relative normal path, or None when it leaves the workspace or is absolute."""
    if path.is_absolute():
        return None
    parts: list[str] = []
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or "."


def read_manifest(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
        return None
    return path.read_text(encoding="utf-8", errors="replace")


# ---- requirement files ---------------------------------------------------------------------------
_IGNORED_OPTIONS = (
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--no-index",
    "--pre",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
    "--use-feature",
    "--require-hashes",
    "--config-settings",
)
_HASH_OPTION = re.compile(r"\s--hash[=\s]\S+")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = pending + raw
        pending = ""
        if line.lstrip().startswith("#"):
            continue
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            lines.append((start, line))
    return lines


def read_requirement_file(col: Collector, rel: str, *, constraints: bool = False, depth: int = 0) -> None:
    """Read one requirements (or constraints) file, following -r/-c inside the workspace."""
    text = read_manifest(col.root / rel)
    if text is None or depth > MAX_INCLUDE_DEPTH:
        if depth > MAX_INCLUDE_DEPTH:
            col.problems.append(f"{rel}: requirement files nest deeper than {MAX_INCLUDE_DEPTH}")
        return
    if rel not in col.sources:
        col.sources.append(rel)
    base = PurePosixPath(rel).parent
    for number, line in _logical_lines(text):
        requirement_line(col, f"{rel}:{number}", line, base, constraints, depth)


def requirement_line(
    col: Collector, origin: str, line: str, base: PurePosixPath, constraints: bool, depth: int
) -> None:
    option, _, value = line.partition(" ") if line.startswith("-") else ("", "", "")
    if "=" in option and option.startswith("--"):
        option, _, value = option.partition("=")
    elif option[:2] in ("-r", "-c", "-e", "-i", "-f") and len(option) > 2:
        option, value = option[:2], option[2:]
    value = value.strip()
    if option in ("-r", "--requirement", "-c", "--constraint"):
        target = inside_workspace(base / value)
        if target is None:
            col.problems.append(f"{origin}: {value[:200]!r} is outside the workspace")
        else:
            is_constraint = constraints or option in ("-c", "--constraint")
            read_requirement_file(col, target, constraints=is_constraint, depth=depth + 1)
        return
    if option in ("-e", "--editable"):
        path_or_requirement(col, origin, value, base, editable=True, constraints=constraints)
        return
    if option:
        if option in _IGNORED_OPTIONS:
            col.notes.append(f"{origin}: {option} ignored: the operator's pip configuration decides the index")
        else:
            col.notes.append(f"{origin}: unknown option {option[:40]!r} ignored")
        return
    path_or_requirement(col, origin, _HASH_OPTION.sub("", " " + line).strip(), base, False, constraints)


_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def path_or_requirement(
    col: Collector, origin: str, text: str, base: PurePosixPath, editable: bool, constraints: bool
) -> None:
    text = text.split(";")[0].strip() if _looks_like_path(text) else text
    if _looks_like_path(text):
        path = text.removeprefix("file:").split("#")[0].split("[")[0]
        if constraints:
            return
        col.local_path(path, origin, editable=editable, base=base)
        return
    if _URL.match(text) or text.startswith("git+"):
        col.problems.append(f"{origin}: direct URL requirements are not fetched ({text[:200]})")
        return
    col.add(text, origin, constraint=constraints)


def _looks_like_path(text: str) -> bool:
    return text in (".", "..") or text.startswith(("./", "../", "file:")) or (text.startswith("/") and " " not in text)


def read_tox(col: Collector) -> None:
    """`[testenv] deps` of tox.ini, used only when no standard declaration names test dependencies."""
    text = read_manifest(col.root / "tox.ini")
    if text is None:
        return
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return
    if not parser.has_option("testenv", "deps"):
        return
    col.sources.append("tox.ini")
    for raw in parser.get("testenv", "deps").splitlines():
        line = raw.split(" #")[0].strip()
        if ":" in line.split(" ")[0] and not line.startswith("-"):
            line = line.split(":", 1)[1].strip()  # a factor-conditional line applies to some env: take it
        if line.startswith("-r") or line.startswith("-c"):
            target = line[2:].strip().replace("{toxinidir}/", "")
            if "{" not in target:
                requirement_line(col, "tox.ini", f"{line[:2]} {target}", PurePosixPath(), False, 0)
        elif line and "{" not in line:
            path_or_requirement(col, "tox.ini", line, PurePosixPath(), False, False)


def read_noxfile(col: Collector, extras: list[str]) -> None:
    """`session.install(...)` literal arguments in the noxfile's test sessions (read with `ast`, never run)."""
    text = read_manifest(col.root / "noxfile.py")
    if text is None:
        return
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    col.sources.append("noxfile.py")
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) and "test" in func.name.lower():
            for node in ast.walk(func):
                if _is_install_call(node):
                    _nox_args(col, [a.value for a in node.args if isinstance(a, ast.Constant)], extras)


def _is_install_call(node: ast.AST) -> TypeGuard[ast.Call]:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "install"


def _nox_args(col: Collector, args: list[object], extras: list[str]) -> None:
    values = [a for a in args if isinstance(a, str)]
    skip_next = False
    for index, value in enumerate(values):
        if skip_next:
            skip_next = False
            continue
        if value in ("-r", "--requirement", "-c", "--constraint"):
            if index + 1 < len(values):
                requirement_line(col, "noxfile.py", f"{value} {values[index + 1]}", PurePosixPath(), False, 0)
            skip_next = True
        elif value.startswith((".[", "-e")) or value == ".":
            inner = value.removeprefix("-e").strip()
            if inner.startswith(".[") and inner.endswith("]"):
                extras.extend(e.strip() for e in inner[2:-1].split(","))
        elif not value.startswith("-"):
            path_or_requirement(col, "noxfile.py", value, PurePosixPath(), False, False)
