"""Reading Python's standard declarations into a collector (pure): PEP 621 and PEP 735 in pyproject.toml,
Hatch and PDM test environments, Poetry's tables, setup.cfg, literal setup() arguments of setup.py (read with
`ast`, never run), Pipfile, and lock files as constraints."""

from __future__ import annotations

import ast
import configparser
import tomllib
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from sigma_exec.deps.poetry import poetry_requirement
from sigma_exec.deps.python_reqfiles import Collector, read_manifest

DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0",)


# ---- standard declarations ---------------------------------------------------------------------------
def _load_toml(col: Collector, rel: str) -> dict[str, Any] | None:
    text = read_manifest(col.root / rel)
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        col.problems.append(f"{rel}: not valid TOML: {exc}")
        return None
    col.sources.append(rel)
    return data


def read_pyproject(col: Collector, rel_dir: str, *, with_tests: bool) -> dict[str, Any]:
    """PEP 621, PEP 735, Poetry; returns facts about the package (name, backend, installability)."""
    rel = "pyproject.toml" if rel_dir == "." else f"{rel_dir}/pyproject.toml"
    data = _load_toml(col, rel) or {}
    project, build = toml_table(data, "project"), toml_table(data, "build-system")
    name = canonicalize_name(str(project.get("name") or _poetry(data).get("name") or ""))
    for text in str_list(project.get("dependencies")):
        col.add(text, rel, own_name=name)
    extras: list[str] = []
    if with_tests:
        optional = toml_table(project, "optional-dependencies")
        chosen = col.pick(optional)
        for group in optional:
            if group in chosen:
                extras.append(group)
                col.test_found = True
                for text in expand_extra(optional, group, name):
                    col.add(text, f"{rel} [{group}]", own_name=name)
        _dependency_groups(col, data, rel, name)
        _tool_envs(col, data, rel, name)
    _poetry_deps(col, data, rel, name, with_tests)
    requires = str_list(build.get("requires")) if "requires" in build else list(DEFAULT_BUILD_REQUIRES)
    return {
        "name": name,
        "backend": str(build.get("build-backend") or "setuptools.build_meta:__legacy__"),
        "build_requires": requires,
        "packaged": bool(build or project.get("name") or _poetry_package(data)),
        "dynamic_deps": "dependencies" in str_list(project.get("dynamic")),
        "version": str(project.get("version") or _poetry(data).get("version") or ""),
        "extras": extras,
        "optional": toml_table(project, "optional-dependencies") if with_tests else {},
    }


def toml_table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def str_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def expand_extra(optional: dict[str, Any], group: str, name: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """An extra's requirements, with self-references (`name[other]`) expanded."""
    out: list[str] = []
    for text in str_list(optional.get(group)):
        try:
            req = Requirement(text)
        except InvalidRequirement:
            out.append(text)
            continue
        if name and canonicalize_name(req.name) == name:
            for other in sorted(req.extras - seen - {group}):
                out.extend(expand_extra(optional, other, name, seen | {group}))
        else:
            out.append(text)
    return out


def _dependency_groups(col: Collector, data: dict[str, Any], rel: str, name: str) -> None:
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


def _tool_envs(col: Collector, data: dict[str, Any], rel: str, name: str) -> None:
    """Hatch environments and PDM's dev-dependencies that hold the test requirements."""
    tool = toml_table(data, "tool")
    envs = toml_table(toml_table(tool, "hatch"), "envs")
    for env in HATCH_TEST_ENVS:
        table = toml_table(envs, env)
        for key in ("dependencies", "extra-dependencies"):
            for text in str_list(table.get(key)):
                col.test_found = col.test_found or env != "default"
                col.add(text, f"{rel} [tool.hatch.envs.{env}]", own_name=name)
    pdm = toml_table(toml_table(tool, "pdm"), "dev-dependencies")
    chosen = col.pick(pdm)
    for group in pdm:
        if group in chosen:
            col.test_found = True
            for text in str_list(pdm.get(group)):
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


def _poetry_deps(col: Collector, data: dict[str, Any], rel: str, name: str, with_tests: bool) -> None:
    poetry = _poetry(data)
    if not poetry:
        return
    tables: list[tuple[str, Any]] = [("dependencies", poetry.get("dependencies"))]
    if with_tests:
        tables.append(("dev-dependencies", poetry.get("dev-dependencies")))
        groups = toml_table(poetry, "group")
        chosen = col.pick(groups)
        tables += [(f"group.{g}", toml_table(groups, g).get("dependencies")) for g in groups if g in chosen]
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


def read_setup_cfg(col: Collector, rel_dir: str, *, with_tests: bool) -> list[str]:
    rel = "setup.cfg" if rel_dir == "." else f"{rel_dir}/setup.cfg"
    text = read_manifest(col.root / rel)
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


def read_setup_py(col: Collector, rel_dir: str, *, with_tests: bool) -> list[str]:
    """Literal `setup()` arguments, read with `ast` (setup.py is never run on the host)."""
    rel = "setup.py" if rel_dir == "." else f"{rel_dir}/setup.py"
    text = read_manifest(col.root / rel)
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


def read_pipfile(col: Collector) -> None:
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


def read_locks(col: Collector) -> None:
    """Pins of poetry.lock, uv.lock and pdm.lock become constraints (a lock wins over ranges)."""
    for rel in ("poetry.lock", "uv.lock", "pdm.lock"):
        data = _load_toml(col, rel)
        for package in (data or {}).get("package") or []:
            source = package.get("source") if isinstance(package.get("source"), dict) else {}
            if any(k in source for k in ("editable", "virtual", "directory", "path", "git", "url")):
                continue
            if isinstance(package.get("name"), str) and isinstance(package.get("version"), str):
                col.constraints[f"{canonicalize_name(package['name'])}=={package['version']}"] = None
