"""Poetry's dependency tables as PEP 508 requirement strings (pure)."""

from __future__ import annotations

import re
from typing import Any

_VERSION = re.compile(r"^\d+(\.\d+)*$")


def _bump(parts: list[int], index: int) -> str:
    upper = [*parts[:index], parts[index] + 1]
    return ".".join(str(p) for p in upper)


def _caret(version: str) -> str:
    parts = [int(p) for p in version.split(".")]
    first = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
    return f">={version},<{_bump(parts, first)}"


def _tilde(version: str) -> str:
    parts = [int(p) for p in version.split(".")]
    index = 0 if len(parts) == 1 else 1
    return f">={version},<{_bump(parts, index)}"


def poetry_constraint(spec: str) -> str | None:
    """`^1.2` → `>=1.2,<2`; `~1.2` → `>=1.2,<1.3`; `1.2.*`/`>=1,<2`/`==1` pass; `*` → ``; None if unknown."""
    clauses: list[str] = []
    for raw in spec.replace(" ", "").split(","):
        if raw in ("", "*"):
            continue
        if raw.startswith("^") and _VERSION.match(raw[1:]):
            clauses.append(_caret(raw[1:]))
        elif raw.startswith("~") and not raw.startswith("~=") and _VERSION.match(raw[1:]):
            clauses.append(_tilde(raw[1:]))
        elif _VERSION.match(raw) or re.match(r"^\d+(\.\d+)*\.\*$", raw):
            clauses.append(f"=={raw}")
        elif re.match(r"^(==|!=|>=|<=|>|<|~=)[0-9][0-9A-Za-z.*+!-]*$", raw):
            clauses.append(raw)
        else:
            return None
    return ",".join(clauses)


def _python_marker(clause: str) -> str:
    """`>=3.8` → `python_version >= "3.8"`."""
    operator = re.match(r"^[<>=!~]+", clause)
    op = operator.group(0) if operator else "=="
    return f'python_version {op} "{clause[len(op) :]}"'


def poetry_requirement(name: str, spec: Any) -> tuple[str, str]:
    """(requirement, problem): one `[tool.poetry.dependencies]` entry as PEP 508, or why it cannot be."""
    extras: list[str] = []
    markers: list[str] = []
    if isinstance(spec, list):
        return "", f"{name}: multiple-constraint entries are not supported; pin one version range"
    if isinstance(spec, dict):
        if any(k in spec for k in ("git", "url")):
            return "", f"{name}: direct git/URL dependencies are not fetched"
        extras = [str(e) for e in spec.get("extras", [])]
        if isinstance(spec.get("python"), str):
            markers += [_python_marker(c) for c in (poetry_constraint(spec["python"]) or "").split(",") if c]
        if isinstance(spec.get("markers"), str):
            markers.append(f"({spec['markers']})")
        spec = spec.get("version", "*")
    constraint = poetry_constraint(str(spec))
    if constraint is None:
        return "", f"{name}: version constraint {str(spec)[:80]!r} is not understood"
    text = name + (f"[{','.join(extras)}]" if extras else "") + constraint
    if markers:
        text += "; " + " and ".join(markers)
    return text, ""
