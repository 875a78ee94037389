"""What a Python project needs installed, read from its manifests without running any of its code (pure).

Sources, standard declarations first: PEP 621 `[project]` (dependencies and the test/dev extras), PEP 735
`[dependency-groups]`, `setup.cfg`, literal `setup()` arguments in `setup.py` (read with `ast`, never run),
Poetry's tables, Pipfile, requirement files whose names say they are for the package, its tests or
development, and `tox.ini` deps when nothing else names test dependencies. Lock files (`poetry.lock`,
`uv.lock`, `pdm.lock`) become constraints. Index options and direct URLs in a manifest are never followed:
the operator's client configuration decides where packages come from.
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, TypeGuard

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field

from sigma_exec.deps.poetry import poetry_requirement

MAX_MANIFEST_BYTES = 2 * 1024 * 1024
MAX_INCLUDE_DEPTH = 5
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0",)
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


class _Collector:
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
        rel = _inside((base or PurePosixPath()) / raw.strip())
        if rel is None or not (self.root / rel).is_dir():
            self.problems.append(f"{origin}: local path dependency {raw[:200]!r} is not a directory in the workspace")
            return
        if rel != ".":
            self.local[rel] = self.local.get(rel, False) or editable


def _inside(path: PurePosixPath) -> str | None:
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


def _read(path: Path) -> str | None:
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


def read_requirement_file(col: _Collector, rel: str, *, constraints: bool = False, depth: int = 0) -> None:
    """Read one requirements (or constraints) file, following -r/-c inside the workspace."""
    text = _read(col.root / rel)
    if text is None or depth > MAX_INCLUDE_DEPTH:
        if depth > MAX_INCLUDE_DEPTH:
            col.problems.append(f"{rel}: requirement files nest deeper than {MAX_INCLUDE_DEPTH}")
        return
    if rel not in col.sources:
        col.sources.append(rel)
    base = PurePosixPath(rel).parent
    for number, line in _logical_lines(text):
        _requirement_line(col, f"{rel}:{number}", line, base, constraints, depth)


def _requirement_line(
    col: _Collector, origin: str, line: str, base: PurePosixPath, constraints: bool, depth: int
) -> None:
    option, _, value = line.partition(" ") if line.startswith("-") else ("", "", "")
    if "=" in option and option.startswith("--"):
        option, _, value = option.partition("=")
    elif option[:2] in ("-r", "-c", "-e", "-i", "-f") and len(option) > 2:
        option, value = option[:2], option[2:]
    value = value.strip()
    if option in ("-r", "--requirement", "-c", "--constraint"):
        target = _inside(base / value)
        if target is None:
            col.problems.append(f"{origin}: {value[:200]!r} is outside the workspace")
        else:
            is_constraint = constraints or option in ("-c", "--constraint")
            read_requirement_file(col, target, constraints=is_constraint, depth=depth + 1)
        return
    if option in ("-e", "--editable"):
        _path_or_requirement(col, origin, value, base, editable=True, constraints=constraints)
        return
    if option:
        if option in _IGNORED_OPTIONS:
            col.notes.append(f"{origin}: {option} ignored: the operator's pip configuration decides the index")
        else:
            col.notes.append(f"{origin}: unknown option {option[:40]!r} ignored")
        return
    _path_or_requirement(col, origin, _HASH_OPTION.sub("", " " + line).strip(), base, False, constraints)


_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def _path_or_requirement(
    col: _Collector, origin: str, text: str, base: PurePosixPath, editable: bool, constraints: bool
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


# ---- standard declarations ---------------------------------------------------------------------------
def _load_toml(col: _Collector, rel: str) -> dict[str, Any] | None:
    text = _read(col.root / rel)
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        col.problems.append(f"{rel}: not valid TOML: {exc}")
        return None
    col.sources.append(rel)
    return data


def read_pyproject(col: _Collector, rel_dir: str, *, with_tests: bool) -> dict[str, Any]:
    """PEP 621, PEP 735, Poetry; returns facts about the package (name, backend, installability)."""
    rel = "pyproject.toml" if rel_dir == "." else f"{rel_dir}/pyproject.toml"
    data = _load_toml(col, rel) or {}
    project, build = _table(data, "project"), _table(data, "build-system")
    name = canonicalize_name(str(project.get("name") or _poetry(data).get("name") or ""))
    for text in _str_list(project.get("dependencies")):
        col.add(text, rel, own_name=name)
    extras: list[str] = []
    if with_tests:
        optional = _table(project, "optional-dependencies")
        chosen = col.pick(optional)
        for group in optional:
            if group in chosen:
                extras.append(group)
                col.test_found = True
                for text in _expand_extra(optional, group, name):
                    col.add(text, f"{rel} [{group}]", own_name=name)
        _dependency_groups(col, data, rel, name)
        _tool_envs(col, data, rel, name)
    _poetry_deps(col, data, rel, name, with_tests)
    requires = _str_list(build.get("requires")) if "requires" in build else list(DEFAULT_BUILD_REQUIRES)
    return {
        "name": name,
        "backend": str(build.get("build-backend") or "setuptools.build_meta:__legacy__"),
        "build_requires": requires,
        "packaged": bool(build or project.get("name") or _poetry_package(data)),
        "dynamic_deps": "dependencies" in _str_list(project.get("dynamic")),
        "version": str(project.get("version") or _poetry(data).get("version") or ""),
        "extras": extras,
        "optional": _table(project, "optional-dependencies") if with_tests else {},
    }


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _str_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _expand_extra(optional: dict[str, Any], group: str, name: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """An extra's requirements, with self-references (`name[other]`) expanded."""
    out: list[str] = []
    for text in _str_list(optional.get(group)):
        try:
            req = Requirement(text)
        except InvalidRequirement:
            out.append(text)
            continue
        if name and canonicalize_name(req.name) == name:
            for other in sorted(req.extras - seen - {group}):
                out.extend(_expand_extra(optional, other, name, seen | {group}))
        else:
            out.append(text)
    return out


def _dependency_groups(col: _Collector, data: dict[str, Any], rel: str, name: str) -> None:
    groups = data.get("dependency-groups")
    if not isinstance(groups, dict):
        return

    def expand(group: str, seen: frozenset[str]) -> list[str]:
        out: list[str] = []
        for item in groups.get(group) or []:
            if isinstance(item, dict) and isinstance(item.get("include-group"), str):
                if item["include-group"] not in seen:
                    out.extend(expand(item["include-group"], seen | {group}))
            elif isinstance(item, str):
                out.append(item)
        return out

    chosen = col.pick(groups)
    for group in groups:
        if group in chosen:
            col.test_found = True
            for text in expand(group, frozenset()):
                col.add(text, f"{rel} [dependency-groups.{group}]", own_name=name)


HATCH_TEST_ENVS = ("default", "test", "tests", "testing", "hatch-test", "dev")


def _tool_envs(col: _Collector, data: dict[str, Any], rel: str, name: str) -> None:
    """Hatch environments and PDM's dev-dependencies that hold the test requirements."""
    tool = _table(data, "tool")
    envs = _table(_table(tool, "hatch"), "envs")
    for env in HATCH_TEST_ENVS:
        table = _table(envs, env)
        for key in ("dependencies", "extra-dependencies"):
            for text in _str_list(table.get(key)):
                col.test_found = col.test_found or env != "default"
                col.add(text, f"{rel} [tool.hatch.envs.{env}]", own_name=name)
    pdm = _table(_table(tool, "pdm"), "dev-dependencies")
    chosen = col.pick(pdm)
    for group in pdm:
        if group in chosen:
            col.test_found = True
            for text in _str_list(pdm.get(group)):
                if text.startswith("-e "):
                    continue
                col.add(text, f"{rel} [tool.pdm.dev-dependencies.{group}]", own_name=name)


def _poetry(data: dict[str, Any]) -> dict[str, Any]:
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    return poetry if isinstance(poetry, dict) else {}


def _poetry_package(data: dict[str, Any]) -> bool:
    poetry = _poetry(data)
    return bool(poetry.get("name")) and poetry.get("package-mode", True) is not False


def _poetry_deps(col: _Collector, data: dict[str, Any], rel: str, name: str, with_tests: bool) -> None:
    poetry = _poetry(data)
    if not poetry:
        return
    tables: list[tuple[str, Any]] = [("dependencies", poetry.get("dependencies"))]
    if with_tests:
        tables.append(("dev-dependencies", poetry.get("dev-dependencies")))
        groups = _table(poetry, "group")
        chosen = col.pick(groups)
        tables += [(f"group.{g}", _table(groups, g).get("dependencies")) for g in groups if g in chosen]
    for table, deps in tables:
        if not isinstance(deps, dict):
            continue
        col.test_found = col.test_found or table != "dependencies"
        for dep, spec in deps.items():
            if canonicalize_name(dep) in ("python", name):
                continue
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                col.local_path(spec["path"], f"{rel} [tool.poetry.{table}]", editable=bool(spec.get("develop")))
                continue
            text, problem = poetry_requirement(dep, spec)
            if problem:
                col.problems.append(f"{rel} [tool.poetry.{table}]: {problem}")
            elif text and not (isinstance(spec, dict) and spec.get("optional") and table == "dependencies"):
                col.add(text, f"{rel} [tool.poetry.{table}]")


def read_setup_cfg(col: _Collector, rel_dir: str, *, with_tests: bool) -> list[str]:
    rel = "setup.cfg" if rel_dir == "." else f"{rel_dir}/setup.cfg"
    text = _read(col.root / rel)
    if text is None:
        return []
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        col.problems.append(f"{rel}: unreadable: {str(exc)[:200]}")
        return []
    col.sources.append(rel)
    for line in _cfg_list(parser.get("options", "install_requires", fallback="")):
        col.add(line, rel)
    extras: list[str] = []
    if with_tests:
        for line in _cfg_list(parser.get("options", "tests_require", fallback="")):
            col.add(line, f"{rel} tests_require")
        if parser.has_section("options.extras_require"):
            items = parser.items("options.extras_require")
            chosen = col.pick(group for group, _ in items)
            for group, value in items:
                if group in chosen:
                    col.test_found = True
                    extras.append(group)
                    for line in _cfg_list(value):
                        col.add(line, f"{rel} [{group}]")
    return extras


def _cfg_list(value: str) -> list[str]:
    items = []
    for line in value.replace(";\n", "\n").splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#") and not line.startswith("file:"):
            items.append(line)
    return items


def read_setup_py(col: _Collector, rel_dir: str, *, with_tests: bool) -> list[str]:
    """Literal `setup()` arguments, read with `ast` (setup.py is never run on the host)."""
    rel = "setup.py" if rel_dir == "." else f"{rel_dir}/setup.py"
    text = _read(col.root / rel)
    if text is None:
        return []
    col.sources.append(rel)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        col.problems.append(f"{rel}: does not parse: {str(exc)[:200]}")
        return []
    names = _literal_assignments(tree)
    keywords = _setup_keywords(tree)
    extras: list[str] = []
    wanted = ["install_requires"] + (["tests_require"] if with_tests else [])
    for key in wanted:
        value = _literal(keywords.get(key), names)
        if key in keywords and value is None:
            col.notes.append(f"{rel}: {key} is computed; what it adds is found when the package installs")
        for line in value if isinstance(value, list) else []:
            col.add(str(line), f"{rel} {key}")
    extras_value = _literal(keywords.get("extras_require"), names) if with_tests else None
    table = extras_value if isinstance(extras_value, dict) else {}
    chosen = col.pick(table)
    for group, lines in table.items():
        if str(group) in chosen and isinstance(lines, list):
            col.test_found = True
            extras.append(str(group))
            for line in lines:
                col.add(str(line), f"{rel} [{group}]")
    return extras


def _setup_keywords(tree: ast.Module) -> dict[str, ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == "setup":
                return {k.arg: k.value for k in node.keywords if k.arg}
    return {}


def _literal_assignments(tree: ast.Module) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, names)
            if value is not None:
                names[node.targets[0].id] = value
    return names


def _literal(node: ast.expr | None, names: dict[str, Any]) -> Any:
    if node is None:
        return None
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, names), _literal(node.right, names)
        return left + right if isinstance(left, list) and isinstance(right, list) else None
    if isinstance(node, ast.Dict):
        keys = [_literal(k, names) if k is not None else None for k in node.keys]
        values = [_literal(v, names) for v in node.values]
        return None if None in keys or None in values else dict(zip(keys, values, strict=True))
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def read_pipfile(col: _Collector) -> None:
    data = _load_toml(col, "Pipfile")
    if not data:
        return
    for table in ("packages", "dev-packages"):
        for dep, spec in (data.get(table) or {}).items():
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                col.local_path(spec["path"], f"Pipfile [{table}]", editable=bool(spec.get("editable")))
                continue
            version = spec if isinstance(spec, str) else str((spec or {}).get("version", "*"))
            col.add(dep if version.strip() in ("*", "") else f"{dep}{version}", f"Pipfile [{table}]")
    col.test_found = col.test_found or bool(data.get("dev-packages"))


def read_locks(col: _Collector) -> None:
    """Pins of poetry.lock, uv.lock and pdm.lock become constraints (a lock wins over ranges)."""
    for rel in ("poetry.lock", "uv.lock", "pdm.lock"):
        data = _load_toml(col, rel)
        for package in (data or {}).get("package") or []:
            source = package.get("source") if isinstance(package.get("source"), dict) else {}
            if any(k in source for k in ("editable", "virtual", "directory", "path", "git", "url")):
                continue
            if isinstance(package.get("name"), str) and isinstance(package.get("version"), str):
                col.constraints[f"{canonicalize_name(package['name'])}=={package['version']}"] = None


def read_tox(col: _Collector) -> None:
    """`[testenv] deps` of tox.ini, used only when no standard declaration names test dependencies."""
    text = _read(col.root / "tox.ini")
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
                _requirement_line(col, "tox.ini", f"{line[:2]} {target}", PurePosixPath(), False, 0)
        elif line and "{" not in line:
            _path_or_requirement(col, "tox.ini", line, PurePosixPath(), False, False)


def read_noxfile(col: _Collector, extras: list[str]) -> None:
    """`session.install(...)` literal arguments in the noxfile's test sessions (read with `ast`, never run)."""
    text = _read(col.root / "noxfile.py")
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


def _nox_args(col: _Collector, args: list[object], extras: list[str]) -> None:
    values = [a for a in args if isinstance(a, str)]
    skip_next = False
    for index, value in enumerate(values):
        if skip_next:
            skip_next = False
            continue
        if value in ("-r", "--requirement", "-c", "--constraint"):
            if index + 1 < len(values):
                _requirement_line(col, "noxfile.py", f"{value} {values[index + 1]}", PurePosixPath(), False, 0)
            skip_next = True
        elif value.startswith((".[", "-e")) or value == ".":
            inner = value.removeprefix("-e").strip()
            if inner.startswith(".[") and inner.endswith("]"):
                extras.extend(e.strip() for e in inner[2:-1].split(","))
        elif not value.startswith("-"):
            _path_or_requirement(col, "noxfile.py", value, PurePosixPath(), False, False)


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
    col = _Collector(root, test_groups)
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
        for text in _expand_extra(optional, extra, str(facts.get("name", ""))):
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
    for line in (_read(root / "PKG-INFO") or "").splitlines()[:50]:
        if line.startswith(f"{field}:"):
            value = line.partition(":")[2].strip()[:100]
            return canonicalize_name(value) if field == "Name" else value
    return ""


def _cfg_has_metadata(root: Path) -> bool:
    text = _read(root / "setup.cfg")
    return bool(text) and "[metadata]" in (text or "") and "name" in (text or "")


def _local_packages(col: _Collector, build: list[str]) -> None:
    """Each local path package's own runtime requirements and build backend join the plan."""
    done: set[str] = set()
    while pending := sorted(set(col.local) - done):
        for rel in pending:
            done.add(rel)
            facts = read_pyproject(col, rel, with_tests=False) if (col.root / rel / "pyproject.toml").is_file() else {}
            read_setup_cfg(col, rel, with_tests=False)
            read_setup_py(col, rel, with_tests=False)
            build.extend(facts.get("build_requires", DEFAULT_BUILD_REQUIRES))
