"""Reading Maven poms without Maven, and choosing what a project needs beyond the image's Debian repository."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sigma_exec.deps.maven_fetcher import read_reactor
from sigma_exec.deps.maven_pom import Coord, PomError, effective, imports, inherit, interpolate, parse_pom
from sigma_exec.deps.maven_resolve import Budget, DebianRepo, LocalRepo, Resolver, SourceError, is_range, valid

NS = 'xmlns="http://maven.apache.org/POM/4.0.0"'


def pom(body: str, coords: str = "<groupId>g</groupId><artifactId>a</artifactId><version>1</version>") -> bytes:
    return f"<project {NS}><modelVersion>4.0.0</modelVersion>{coords}{body}</project>".encode()


def dep(group: str, artifact: str, version: str = "", extra: str = "") -> str:
    version_tag = f"<version>{version}</version>" if version else ""
    return f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>{version_tag}{extra}</dependency>"


def deps(*items: str) -> str:
    return f"<dependencies>{''.join(items)}</dependencies>"


def coords(group: str, artifact: str, version: str) -> str:
    return f"<groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>"


# ---- one pom -----------------------------------------------------------------------------------------
def test_a_pom_is_read_with_its_namespace_parent_properties_dependencies_and_management() -> None:
    data = pom(
        "<parent><groupId>org.p</groupId><artifactId>parent</artifactId><version>7</version>"
        "<relativePath>../base/pom.xml</relativePath></parent>"
        "<properties><lib.version>2.1</lib.version></properties>"
        + deps(
            dep("org.x", "lib", "${lib.version}"),
            dep("org.x", "fixtures", "", "<scope>test</scope><type>test-jar</type><optional>true</optional>"),
            dep(
                "org.x",
                "big",
                "1",
                "<exclusions><exclusion><groupId>org.y</groupId><artifactId>*</artifactId></exclusion></exclusions>",
            ),
        )
        + f"<dependencyManagement>{deps(dep('org.x', 'fixtures', '3'))}</dependencyManagement>"
        "<modules><module>core</module></modules>"
        "<repositories><repository><id>r</id><url>https://repo.example/maven2</url></repository></repositories>",
        coords="<artifactId>child</artifactId>",
    )

    read = parse_pom(data)

    assert read.coord == Coord(group="org.p", artifact="child", version="7")  # group and version from the parent
    assert read.parent_path == "../base/pom.xml" and read.properties == {"lib.version": "2.1"}
    lib, fixtures, big = read.dependencies
    assert (lib.version, lib.scope, lib.file()) == ("${lib.version}", "", ("jar", ""))
    assert (fixtures.scope, fixtures.optional, fixtures.file()) == ("test", True, ("jar", "tests"))
    assert big.excludes("org.y", "anything") and not big.excludes("org.z", "anything")
    assert read.managed[0].version == "3" and read.modules == ("core",)
    assert read.repositories == ("https://repo.example/maven2",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<!DOCTYPE p [<!ENTITY x "xxxxxxxx">]><project>&x;</project>', "not readable XML"),
        (b"<project><unclosed></project>", "not readable XML"),
        (b"<settings/>", "root element is not <project>"),
        (b"<project>" + b" " * (3 * 1024 * 1024) + b"</project>", "larger than"),
    ],
    ids=["entities", "malformed", "not-a-pom", "too-large"],
)
def test_a_pom_that_is_not_a_plain_project_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(PomError, match=message):
        parse_pom(data)


def test_a_relocation_pom_names_where_the_artifact_moved() -> None:
    moved = parse_pom(
        pom("<distributionManagement><relocation><groupId>new.g</groupId></relocation></distributionManagement>")
    )
    assert moved.relocation == Coord(group="new.g", artifact="a", version="1")


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("${a}", {"a": "1"}, "1"),
        ("${a}.${b}", {"a": "${b}", "b": "2"}, "2.2"),  # nested references
        ("${missing}-${a}", {"a": "1"}, "${missing}-1"),  # unknown ones are left
        ("${a}", {"a": "${a}"}, "${a}"),  # a reference to itself ends
        ("${x0}", {f"x{i}": f"${{x{i + 1}}}${{x{i + 1}}}" for i in range(40)}, "${x0}"),  # a bomb stays small
    ],
)
def test_properties_are_substituted_nested_and_bounded(text: str, values: dict[str, str], expected: str) -> None:
    result = interpolate(text, values)
    assert result == expected or (expected == "${x0}" and len(result) <= 2000)


# ---- inheritance and management ----------------------------------------------------------------------
def test_a_child_inherits_properties_dependencies_and_management_and_its_own_entries_win() -> None:
    parent = inherit(
        parse_pom(
            pom(
                "<properties><v>1.0</v><w>parent</w></properties>"
                + deps(dep("org.x", "inherited", "${project.version}"))
                + f"<dependencyManagement>{deps(dep('org.x', 'lib', '${v}', '<scope>test</scope>'))}"
                "</dependencyManagement>",
                coords=coords("org.p", "parent", "5"),
            )
        ),
        None,
    )
    child = parse_pom(
        pom(
            "<parent><groupId>org.p</groupId><artifactId>parent</artifactId><version>5</version></parent>"
            "<properties><v>2.0</v></properties>" + deps(dep("org.x", "lib")),
            coords="<artifactId>child</artifactId><version>9</version>",
        )
    )

    resolved = effective(inherit(child, parent), [])

    by_artifact = {d.artifact: d for d in resolved.dependencies}
    assert by_artifact["lib"].version == "2.0" and by_artifact["lib"].scope == "test"  # the child's property wins
    assert by_artifact["inherited"].version == "9"  # ${project.version} is the child's
    assert resolved.coord == Coord(group="org.p", artifact="child", version="9")


def test_an_imported_bom_manages_versions_the_pom_does_not_manage_itself() -> None:
    model = inherit(
        parse_pom(
            pom(
                "<properties><bom.version>3</bom.version></properties>"
                + deps(dep("org.x", "a"), dep("org.x", "b"))
                + "<dependencyManagement>"
                + deps(
                    dep("org.x", "a", "1"),
                    dep("org.bom", "bom", "${bom.version}", "<type>pom</type><scope>import</scope>"),
                )
                + "</dependencyManagement>"
            )
        ),
        None,
    )
    bom = effective(
        inherit(
            parse_pom(
                pom(
                    f"<dependencyManagement>{deps(dep('org.x', 'a', '8'), dep('org.x', 'b', '8'))}"
                    "</dependencyManagement>"
                )
            ),
            None,
        ),
        [],
    )

    assert imports(model) == [Coord(group="org.bom", artifact="bom", version="3")]
    resolved = effective(model, [bom.managed])
    assert {d.artifact: d.version for d in resolved.dependencies} == {"a": "1", "b": "8"}


@pytest.mark.parametrize(
    ("coord", "ok"),
    [
        (Coord(group="org.apache.commons", artifact="commons-lang3", version="3.12.0"), True),
        (Coord(group="org", artifact="a", version="1.0-SNAPSHOT+build"), True),
        (Coord(group="..", artifact="a", version="1"), False),
        (Coord(group="org", artifact="../../etc", version="1"), False),
        (Coord(group="org", artifact="a", version="1/../../x"), False),
        (Coord(group="org", artifact="a", version=""), False),
    ],
)
def test_only_coordinates_safe_as_repository_paths_are_fetched(coord: Coord, ok: bool) -> None:
    assert valid(coord) is ok


def test_version_ranges_are_recognised() -> None:
    assert is_range("[1.0,2.0)") and is_range("(,1.0]") and not is_range("1.0") and not is_range("")


# ---- the workspace's build ----------------------------------------------------------------------------
def write(root: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def test_the_reactor_follows_modules_and_parents_and_finds_the_projects_own_repository(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pom.xml": pom(
                "<modules><module>core</module><module>../outside</module></modules>"
                "<repositories><repository><id>own</id><url>file://${project.basedir}/repo</url></repository>"
                "<repository><id>web</id><url>https://repo.example/m2</url></repository></repositories>",
                coords=coords("g", "root", "1.0"),
            ),
            "core/pom.xml": pom(
                "<parent><groupId>g</groupId><artifactId>root</artifactId><version>1.0</version></parent>"
                + deps(dep("org.x", "lib", "2")),
                coords="<artifactId>core</artifactId>",
            ),
            "repo/org/x/lib/2/lib-2.pom": pom("", coords=coords("org.x", "lib", "2")),
        },
    )

    reactor = read_reactor(tmp_path)

    assert reactor is not None
    assert set(reactor.poms) == {"pom.xml", "core/pom.xml"}  # a module outside the workspace is not read
    assert reactor.parent_of == {"core/pom.xml": "pom.xml"}
    assert reactor.local_repos == ["repo"]
    assert reactor.notes == [
        "repository https://repo.example/m2 in pom.xml ignored: artifacts Debian lacks come from MAVEN_MIRROR_URL "
        "or a repository directory inside the workspace"
    ]
    assert reactor.external()


def test_the_layer_key_ignores_a_version_bump_but_not_a_dependency_change(tmp_path: Path) -> None:
    write(tmp_path, {"pom.xml": pom(deps(dep("org.x", "lib", "2")))})
    before = read_reactor(tmp_path)
    write(tmp_path, {"pom.xml": pom(deps(dep("org.x", "lib", "2")), coords=coords("g", "a", "1.1"))})
    bumped = read_reactor(tmp_path)
    write(tmp_path, {"pom.xml": pom(deps(dep("org.x", "lib", "3")))})
    changed = read_reactor(tmp_path)
    assert before and bumped and changed
    assert before.key_extra == bumped.key_extra != changed.key_extra


def test_a_build_of_only_its_own_modules_needs_no_layer_and_a_broken_pom_is_a_note(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pom.xml": pom("<modules><module>a</module><module>b</module><module>c</module></modules>"),
            "a/pom.xml": pom(deps(dep("g", "b", "1")), coords=coords("g", "a", "1")),
            "b/pom.xml": pom("", coords=coords("g", "b", "1")),
            "c/pom.xml": "<project><unclosed></project>",
        },
    )
    reactor = read_reactor(tmp_path)
    assert reactor is not None and not reactor.external()
    assert reactor.notes and reactor.notes[0].startswith("c/pom.xml: not readable XML")
    assert read_reactor(tmp_path / "c") is None


# ---- what to fetch ------------------------------------------------------------------------------------
class MemoryRepo:
    """A repository layout held in memory: a Source like the mirror, minus HTTP."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.asked: list[str] = []

    def get(self, path: str) -> bytes | None:
        self.asked.append(path)
        if path.endswith("broken-1.jar"):
            raise SourceError("the Maven mirror answered HTTP 500")
        return self.files.get(path)


def debian_tar(poms: dict[str, bytes], links: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in poms.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(f"./{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


DEBIAN = DebianRepo.from_tar(
    debian_tar(
        {
            "junit/junit/4.13.2/junit-4.13.2.pom": pom("", coords=coords("junit", "junit", "4.13.2")),
            "org/slf4j/slf4j-api/debian/slf4j-api-debian.pom": pom(
                "", coords=coords("org.slf4j", "slf4j-api", "debian")
            ),
            "org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.pom": pom(
                "", coords=coords("org.slf4j", "slf4j-api", "1.7.36")
            ),
        },
        {"junit/junit/4.x/junit-4.x.pom": "../4.13.2/junit-4.13.2.pom"},
    )
)


def mirror_files() -> dict[str, bytes]:
    parent = pom(
        "<packaging>pom</packaging><properties><io.version>1.0</io.version></properties><dependencyManagement>"
        + deps(dep("com.example", "textio", "${io.version}"))
        + "</dependencyManagement>",
        coords=coords("com.example", "parent", "1"),
    )
    textutil = pom(
        deps(
            dep("com.example", "textio"),
            dep("org.slf4j", "slf4j-api", "2.0.9"),
            dep("com.example", "only-for-its-tests", "1", "<scope>test</scope>"),
            dep("com.example", "optional-extra", "1", "<optional>true</optional>"),
            dep("com.example", "excluded", "1"),
        ),
        coords="<parent><groupId>com.example</groupId><artifactId>parent</artifactId><version>1</version></parent>"
        "<artifactId>textutil</artifactId><version>1.0</version>",
    )
    return {
        "com/example/parent/1/parent-1.pom": parent,
        "com/example/textutil/1.0/textutil-1.0.pom": textutil,
        "com/example/textutil/1.0/textutil-1.0.jar": b"jar-bytes",
        "com/example/textio/1.0/textio-1.0.pom": pom("", coords=coords("com.example", "textio", "1.0")),
        "com/example/textio/1.0/textio-1.0.jar": b"jar-bytes",
        "com/example/excluded/1/excluded-1.pom": pom("", coords=coords("com.example", "excluded", "1")),
        "com/example/excluded/1/excluded-1.jar": b"jar-bytes",
        "com/example/old/1/old-1.pom": pom(
            "<distributionManagement><relocation><artifactId>textio</artifactId><version>1.0</version></relocation>"
            "</distributionManagement>",
            coords=coords("com.example", "old", "1"),
        ),
    }


def resolve(tmp_path: Path, project: bytes, files: dict[str, bytes], missing: str = "not found") -> Resolver:
    write(tmp_path / "ws", {"pom.xml": project})
    reactor = read_reactor(tmp_path / "ws")
    assert reactor is not None
    resolver = Resolver(reactor.poms, reactor.parent_of, DEBIAN, [MemoryRepo(files)], tmp_path / "m2", missing)
    resolver.run()
    return resolver


def staged(tmp_path: Path) -> set[str]:
    return {str(p.relative_to(tmp_path / "m2")) for p in (tmp_path / "m2").rglob("*") if p.is_file()}


def test_what_debian_lacks_is_fetched_with_its_parent_and_its_runtime_dependencies(tmp_path: Path) -> None:
    project = pom(
        deps(
            dep(
                "com.example",
                "textutil",
                "1.0",
                "<exclusions><exclusion><groupId>com.example</groupId>"
                "<artifactId>excluded</artifactId></exclusion></exclusions>",
            ),
            dep("junit", "junit", "4.12", "<scope>test</scope>"),  # Debian packages junit: maven.sh maps it
        )
    )

    resolver = resolve(tmp_path, project, mirror_files())

    assert resolver.problems == {}
    assert staged(tmp_path) == {
        "com/example/parent/1/parent-1.pom",
        "com/example/textutil/1.0/textutil-1.0.pom",
        "com/example/textutil/1.0/textutil-1.0.jar",
        "com/example/textio/1.0/textio-1.0.pom",  # version from the parent's management
        "com/example/textio/1.0/textio-1.0.jar",
        "org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.pom",  # Debian's version instead: a relocation pom
    }
    stub = parse_pom((tmp_path / "m2/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.pom").read_bytes())
    assert stub.relocation == Coord(group="org.slf4j", artifact="slf4j-api", version="debian")
    assert resolver.mapped == ["org.slf4j:slf4j-api:2.0.9 -> debian"]
    assert resolver.fetched == ["com.example:textutil:1.0", "com.example:textio:1.0"]


def test_what_neither_debian_nor_the_sources_have_is_named_with_the_reason(tmp_path: Path) -> None:
    files = mirror_files()
    del files["com/example/textio/1.0/textio-1.0.jar"]
    project = pom(
        deps(
            dep("com.example", "textutil", "1.0"),
            dep("com.example", "nowhere", "4.2"),
            dep("com.example", "broken", "1"),
            dep("com.example", "unpinned"),
        )
    )
    files["com/example/broken/1/broken-1.pom"] = pom("", coords=coords("com.example", "broken", "1"))

    resolver = resolve(tmp_path, project, files, missing="not found on the Maven mirror")

    assert resolver.problems == {
        "com.example:nowhere:4.2": "not found on the Maven mirror",
        "com.example:unpinned": "no version is declared or managed",
        "com.example:broken:1": "the Maven mirror answered HTTP 500",
        "com.example:textio:1.0": "textio-1.0.jar not found on the Maven mirror",
    }


def test_the_projects_management_wins_over_the_versions_fetched_artifacts_ask_for(tmp_path: Path) -> None:
    files = mirror_files()
    files["com/example/textio/2.0/textio-2.0.pom"] = pom("", coords=coords("com.example", "textio", "2.0"))
    files["com/example/textio/2.0/textio-2.0.jar"] = b"jar"
    project = pom(
        deps(dep("com.example", "textutil", "1.0"))
        + f"<dependencyManagement>{deps(dep('com.example', 'textio', '2.0'))}</dependencyManagement>"
    )

    resolver = resolve(tmp_path, project, files)

    assert resolver.problems == {}
    assert "com/example/textio/2.0/textio-2.0.jar" in staged(tmp_path)
    assert not any(name.startswith("com/example/textio/1.0/") for name in staged(tmp_path))


def test_a_relocated_artifact_is_fetched_where_its_relocation_points(tmp_path: Path) -> None:
    resolver = resolve(tmp_path, pom(deps(dep("com.example", "old", "1"))), mirror_files())

    assert resolver.problems == {}
    assert {"com/example/old/1/old-1.pom", "com/example/textio/1.0/textio-1.0.jar"} <= staged(tmp_path)
    assert "com/example/old/1/old-1.jar" not in staged(tmp_path)  # Maven reads the relocation, not a jar


def test_a_hostile_coordinate_never_leaves_the_stage(tmp_path: Path) -> None:
    files = {
        "com/example/evil/1/evil-1.pom": pom(
            deps(dep("..", "..", "1"), dep("x", "y", "1/../../../escape")), coords=coords("com.example", "evil", "1")
        ),
        "com/example/evil/1/evil-1.jar": b"jar",
    }
    resolver = resolve(tmp_path, pom(deps(dep("com.example", "evil", "1"))), files)
    assert set(resolver.problems) == {"..:..:1", "x:y:1/../../../escape"}
    assert set(resolver.problems.values()) == {"not a valid Maven coordinate"}
    assert not list(tmp_path.rglob("*escape*")) and not list(tmp_path.parent.glob("escape*"))


def test_a_debian_tar_indexes_linked_poms_and_prefers_debian_then_nx_versions() -> None:
    assert DEBIAN.has(Coord(group="junit", artifact="junit", version="4.x"))
    assert DEBIAN.preferred(("junit", "junit")) == "4.x"
    assert DEBIAN.preferred(("org.slf4j", "slf4j-api")) == "debian"
    assert DEBIAN.packages(("org.slf4j", "slf4j-api")) and not DEBIAN.packages(("com.example", "textutil"))


def test_a_projects_own_repository_is_read_inside_it_only(tmp_path: Path) -> None:
    write(tmp_path, {"repo/g/a/1/a-1.pom": "<project/>", "secret": "s"})
    (tmp_path / "repo" / "g" / "a" / "1" / "link.pom").symlink_to(tmp_path / "secret")
    local = LocalRepo(tmp_path / "repo", Budget(1024, 60))
    assert local.get("g/a/1/a-1.pom") == b"<project/>"
    assert local.get("g/a/1/link.pom") is None and local.get("../secret") is None
    with pytest.raises(SourceError, match="DEPS_MAX_MB"):
        LocalRepo(tmp_path / "repo", Budget(4, 60)).get("g/a/1/a-1.pom")
