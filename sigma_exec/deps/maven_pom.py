"""Reading Maven poms without running Maven (a pom may load build extensions): pure functions over bytes.

A pom becomes a `Pom` (what it declares), a `Model` (with its parents' properties, dependencies and
management merged in, not yet interpolated), then an `Effective` pom (`${property}` substituted, versions
and scopes taken from the dependency management, imported BOMs merged): what Maven would resolve.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from pydantic import BaseModel, ConfigDict, Field

MAX_POM_BYTES = 2 * 1024 * 1024
MAX_TEXT = 2000  # an interpolated value longer than this is left as it is (no property bombs)
MAX_PASSES = 8
_PROPERTY = re.compile(r"\$\{([^${}]{1,200})\}")
JAR_TYPES = {"jar": "", "test-jar": "tests", "maven-plugin": "", "ejb": "", "bundle": "", "ejb-client": "client"}


class PomError(ValueError):
    """Raised when a pom is not readable XML of a Maven project."""


class Coord(BaseModel):
    """One artifact version: group, artifact, version."""

    model_config = ConfigDict(frozen=True)
    group: str
    artifact: str
    version: str

    def __str__(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @classmethod
    def from_key(cls, key: str) -> Coord:
        """The inverse of str(): `group:artifact:version`."""
        group, artifact, version = [*key.split(":", 2), "", ""][:3]
        return cls(group=group, artifact=artifact, version=version)

    @property
    def ga(self) -> tuple[str, str]:
        return self.group, self.artifact

    def path(self, ext: str = "pom", classifier: str = "") -> str:
        """Its file in a Maven repository layout, e.g. `org/x/a/1.0/a-1.0-tests.jar`."""
        name = f"{self.artifact}-{self.version}" + (f"-{classifier}" if classifier else "")
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{name}.{ext}"


class Dependency(BaseModel):
    """One `<dependency>` as written (version and scope may be empty or hold `${...}`)."""

    model_config = ConfigDict(frozen=True)
    group: str
    artifact: str
    version: str = ""
    scope: str = ""
    type: str = "jar"
    classifier: str = ""
    optional: bool = False
    exclusions: tuple[str, ...] = ()  # "group:artifact", either part may be "*"

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What the dependency management matches on."""
        return self.group, self.artifact, self.type, self.classifier

    @property
    def coord(self) -> Coord:
        return Coord(group=self.group, artifact=self.artifact, version=self.version)

    def file(self) -> tuple[str, str] | None:
        """(extension, classifier) of the file beside the pom it needs; None for a pom-only dependency."""
        if self.type == "pom":
            return None
        if self.type in JAR_TYPES:
            return "jar", self.classifier or JAR_TYPES[self.type]
        return self.type, self.classifier

    def excludes(self, group: str, artifact: str) -> bool:
        for rule in self.exclusions:
            g, _, a = rule.partition(":")
            if g in ("*", group) and a in ("*", artifact):
                return True
        return False


class Pom(BaseModel):
    """What one pom.xml declares."""

    model_config = ConfigDict(frozen=True)
    group: str = ""
    artifact: str = ""
    version: str = ""
    packaging: str = "jar"
    parent: Coord | None = None
    parent_path: str = "../pom.xml"
    properties: dict[str, str] = Field(default_factory=dict)
    dependencies: tuple[Dependency, ...] = ()
    managed: tuple[Dependency, ...] = ()
    modules: tuple[str, ...] = ()
    repositories: tuple[str, ...] = ()  # urls of <repositories> and <pluginRepositories>
    relocation: Coord | None = None

    @property
    def coord(self) -> Coord:
        parent = self.parent
        return Coord(
            group=self.group or (parent.group if parent else ""),
            artifact=self.artifact,
            version=self.version or (parent.version if parent else ""),
        )


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(node: Element | None, name: str) -> Element | None:
    if node is None:
        return None
    return next((c for c in node if _local(c.tag) == name), None)


def _children(node: Element | None, name: str) -> list[Element]:
    return [c for c in _elements(node) if _local(c.tag) == name]


def _elements(node: Element | None) -> list[Element]:
    return list(node) if node is not None else []


def _text(node: Element | None, name: str, default: str = "") -> str:
    found = _child(node, name)
    return (found.text or "").strip()[:MAX_TEXT] if found is not None and found.text else default


def _dependency(node: Element) -> Dependency:
    exclusions = tuple(
        f"{_text(e, 'groupId', '*')}:{_text(e, 'artifactId', '*')}"
        for e in _children(_child(node, "exclusions"), "exclusion")
    )
    return Dependency(
        group=_text(node, "groupId"),
        artifact=_text(node, "artifactId"),
        version=_text(node, "version"),
        scope=_text(node, "scope"),
        type=_text(node, "type", "jar"),
        classifier=_text(node, "classifier"),
        optional=_text(node, "optional") == "true",
        exclusions=exclusions,
    )


def _dependencies(node: Element | None) -> tuple[Dependency, ...]:
    return tuple(_dependency(d) for d in _children(_child(node, "dependencies"), "dependency"))


def parse_pom(data: bytes) -> Pom:
    """Read one pom (DTDs, entities and external references refused); raise PomError when unreadable."""
    if len(data) > MAX_POM_BYTES:
        raise PomError(f"larger than {MAX_POM_BYTES // 1024} KiB")
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise PomError(f"not readable XML: {str(exc)[:200]}") from exc
    if _local(root.tag) != "project":
        raise PomError("its root element is not <project>")
    parent = _child(root, "parent")
    repositories = [*_children(_child(root, "repositories"), "repository")]
    repositories += _children(_child(root, "pluginRepositories"), "pluginRepository")
    relocation = _child(_child(root, "distributionManagement"), "relocation")
    pom = Pom(
        group=_text(root, "groupId"),
        artifact=_text(root, "artifactId"),
        version=_text(root, "version"),
        packaging=_text(root, "packaging", "jar"),
        parent=_coord(parent) if parent is not None else None,
        parent_path=_text(parent, "relativePath", "../pom.xml"),
        properties={_local(p.tag): (p.text or "").strip()[:MAX_TEXT] for p in _elements(_child(root, "properties"))},
        dependencies=_dependencies(root),
        managed=_dependencies(_child(root, "dependencyManagement")),
        modules=tuple(m.text.strip() for m in _children(_child(root, "modules"), "module") if m.text),
        repositories=tuple(_text(r, "url") for r in repositories if _text(r, "url")),
    )
    if relocation is not None:
        own = pom.coord
        moved = Coord(
            group=_text(relocation, "groupId", own.group),
            artifact=_text(relocation, "artifactId", own.artifact),
            version=_text(relocation, "version", own.version),
        )
        pom = pom.model_copy(update={"relocation": moved if moved != own else None})
    return pom


def _coord(node: Element) -> Coord:
    return Coord(group=_text(node, "groupId"), artifact=_text(node, "artifactId"), version=_text(node, "version"))


class Model(BaseModel):
    """A pom with what it inherits from its parents (raw: interpolated with the child's properties)."""

    model_config = ConfigDict(frozen=True)
    pom: Pom
    properties: dict[str, str]
    dependencies: tuple[Dependency, ...]
    managed: tuple[Dependency, ...]

    @property
    def coord(self) -> Coord:
        return self.pom.coord


def inherit(pom: Pom, parent: Model | None) -> Model:
    """Merge a parent's properties, dependencies and management under a pom (the child's entries win)."""
    if parent is None:
        return Model(pom=pom, properties=dict(pom.properties), dependencies=pom.dependencies, managed=pom.managed)
    own_keys = {d.key for d in pom.managed}
    own_deps = {d.key for d in pom.dependencies}
    return Model(
        pom=pom,
        properties={**parent.properties, **pom.properties},
        dependencies=(*(d for d in parent.dependencies if d.key not in own_deps), *pom.dependencies),
        managed=(*(d for d in parent.managed if d.key not in own_keys), *pom.managed),
    )


def builtins(pom: Pom, basedir: str = "") -> dict[str, str]:
    """The `project.*` values a pom may refer to."""
    coord, parent = pom.coord, pom.parent
    values = {"groupId": coord.group, "artifactId": coord.artifact, "version": coord.version}
    values["packaging"] = pom.packaging
    found = {f"{prefix}{k}": v for prefix in ("project.", "pom.", "") for k, v in values.items()}
    if parent is not None:
        for key, value in (("groupId", parent.group), ("artifactId", parent.artifact), ("version", parent.version)):
            found[f"project.parent.{key}"] = found[f"parent.{key}"] = value
    if basedir:
        found["project.basedir"] = found["basedir"] = basedir
    return found


def interpolate(text: str, values: dict[str, str]) -> str:
    """`${name}` replaced from `values`, nested references included; unknown ones are left (linear, bounded)."""
    for _ in range(MAX_PASSES):
        if "${" not in text:
            return text
        done = _PROPERTY.sub(lambda m: values.get(m.group(1), m.group(0)), text)
        if done == text or len(done) > MAX_TEXT:
            return text
        text = done
    return text


def _interpolated(dep: Dependency, values: dict[str, str]) -> Dependency:
    fields = ("group", "artifact", "version", "scope", "type", "classifier")
    return dep.model_copy(update={f: interpolate(getattr(dep, f), values) for f in fields})


class Effective(BaseModel):
    """A pom as Maven resolves it: interpolated, versions and scopes from its management, BOMs merged."""

    model_config = ConfigDict(frozen=True)
    coord: Coord
    packaging: str
    dependencies: tuple[Dependency, ...]
    managed: tuple[Dependency, ...]
    relocation: Coord | None = None


def imports(model: Model, basedir: str = "") -> list[Coord]:
    """The BOMs its dependency management imports (scope import, type pom), interpolated."""
    values = {**model.properties, **builtins(model.pom, basedir)}
    found = [_interpolated(d, values) for d in model.managed if d.scope == "import"]
    return [d.coord for d in found if d.type == "pom"]


def effective(model: Model, imported: list[tuple[Dependency, ...]], basedir: str = "") -> Effective:
    """Interpolate, merge the imported BOMs' management (its own entries win), and fill versions and scopes."""
    values = {**model.properties, **builtins(model.pom, basedir)}
    managed = {d.key: d for d in (_interpolated(m, values) for m in model.managed) if d.scope != "import"}
    for bom in imported:
        for entry in bom:
            managed.setdefault(entry.key, entry)
    dependencies = tuple(managed_dependency(_interpolated(d, values), managed) for d in model.dependencies)
    coord = Coord(**{k: interpolate(v, values) for k, v in model.coord.model_dump().items()})
    relocation = model.pom.relocation
    if relocation is not None:
        relocation = Coord(**{k: interpolate(v, values) for k, v in relocation.model_dump().items()})
    return Effective(
        coord=coord,
        packaging=model.pom.packaging,
        dependencies=dependencies,
        managed=tuple(managed.values()),
        relocation=relocation,
    )


def managed_dependency(dep: Dependency, managed: dict[tuple[str, str, str, str], Dependency]) -> Dependency:
    """A dependency with the version, scope and exclusions its management gives where it says none."""
    entry = managed.get(dep.key)
    if entry is None:
        return dep if dep.scope else dep.model_copy(update={"scope": "compile"})
    return dep.model_copy(
        update={
            "version": dep.version or entry.version,
            "scope": dep.scope or entry.scope or "compile",
            "exclusions": (*dep.exclusions, *entry.exclusions),
        }
    )
