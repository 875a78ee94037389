"""Maven artifacts the image's Debian repository lacks, from the operator's mirror (one the test lays out from
this host's Debian jars and serves on 127.0.0.1) and from the project's own file repository, merged offline
into the image's Maven repository; the test sandbox stays offline."""

from __future__ import annotations

import hashlib
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.deps.maven_pom import Coord
from sigma_exec.deps.maven_resolve import Budget, Mirror, SourceError
from tests.conftest import build_leftovers
from tests.integration.loopback_http import FolderSource

INTERFACES = "tail -n +3 /proc/net/dev | cut -d: -f1"
HOST_REPO = Path("/usr/share/maven-repo")
TEXTUTIL = Coord(group="com.example", artifact="textutil", version="1.0")  # commons-lang3's classes
TEXTIO = Coord(group="com.example", artifact="textio", version="1.0")  # commons-io's classes
PARENT = Coord(group="com.example", artifact="parent", version="1")
LOCAL_ONLY = Coord(group="com.example", artifact="localonly", version="1.0")  # in the project's own repo/


def host_jar(group_path: str, artifact: str) -> Path:
    """A jar of this host's Debian Maven repository (a released version, not the `debian` alias)."""
    found = sorted((HOST_REPO / group_path / artifact).glob(f"[0-9]*/{artifact}-[0-9]*.jar"))
    if not found:
        pytest.fail(f"{HOST_REPO}/{group_path}/{artifact} is missing: apt-get install lib{artifact}-java")
    return found[0].resolve()


def pom_xml(coord: Coord, body: str = "", parent: Coord | None = None) -> str:
    head = (
        f"<parent><groupId>{parent.group}</groupId><artifactId>{parent.artifact}</artifactId>"
        f"<version>{parent.version}</version></parent>"
        if parent
        else f"<groupId>{coord.group}</groupId>"
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"{head}<artifactId>{coord.artifact}</artifactId><version>{coord.version}</version>{body}</project>\n"
    )


def dependency(group: str, artifact: str, version: str = "", scope: str = "") -> str:
    return (
        f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        + (f"<version>{version}</version>" if version else "")
        + (f"<scope>{scope}</scope>" if scope else "")
        + "</dependency>"
    )


class MavenMirror(FolderSource):
    """A Maven repository layout served over HTTP on 127.0.0.1; it remembers what was asked of it."""

    def publish(self, coord: Coord, pom: str, jar: bytes | None = None, sha1: bool = False) -> None:
        for ext, data in (("pom", pom.encode()), ("jar", jar)):
            if data is None:
                continue
            target = self.root / coord.path(ext)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if sha1:
                target.with_name(target.name + ".sha1").write_text(hashlib.sha1(data).hexdigest() + "\n")


@pytest.fixture
def maven_mirror(tmp_path: Path) -> Iterator[MavenMirror]:
    with MavenMirror(tmp_path / "mirror").serving() as mirror:
        yield mirror


def publish_textutil(mirror: MavenMirror) -> None:
    """textutil (with a .sha1) inherits textio's version from its parent and asks for a commons-cli Debian lacks."""
    managed = dependency(TEXTIO.group, TEXTIO.artifact, "${textio.version}")
    parent_body = "<packaging>pom</packaging><properties><textio.version>1.0</textio.version></properties>"
    parent_body += f"<dependencyManagement><dependencies>{managed}</dependencies></dependencyManagement>"
    mirror.publish(PARENT, pom_xml(PARENT, parent_body))
    deps = dependency(TEXTIO.group, TEXTIO.artifact) + dependency("commons-cli", "commons-cli", "1.2")
    deps += dependency("junit", "junit", "3.8.1", "test")  # its own tests' dependency: not needed
    lang3 = host_jar("org/apache/commons", "commons-lang3").read_bytes()
    mirror.publish(TEXTUTIL, pom_xml(TEXTUTIL, f"<dependencies>{deps}</dependencies>", PARENT), lang3, sha1=True)
    mirror.publish(TEXTIO, pom_xml(TEXTIO), host_jar("commons-io", "commons-io").read_bytes())


def maven_project(root: Path, marker: str, extra: str = "") -> Path:
    """A project needing textutil from the mirror and localonly from its own repo/; a marker makes it new."""
    deps = dependency(TEXTUTIL.group, TEXTUTIL.artifact, TEXTUTIL.version)
    deps += dependency(LOCAL_ONLY.group, LOCAL_ONLY.artifact, LOCAL_ONLY.version)
    deps += dependency("junit", "junit", "4.13.2", "test") + extra
    body = (
        f"<properties><maven.compiler.release>17</maven.compiler.release><marker>{marker}</marker></properties>"
        "<repositories><repository><id>project-repo</id><url>file://${project.basedir}/repo</url></repository>"
        f"</repositories><dependencies>{deps}</dependencies>"
    )
    (root / "src/test/java/app").mkdir(parents=True)
    (root / "pom.xml").write_text(pom_xml(Coord(group="app", artifact="app", version="1.0"), body))
    local = root / "repo" / LOCAL_ONLY.path("jar")
    local.parent.mkdir(parents=True)
    with zipfile.ZipFile(local, "w") as jar:
        jar.writestr("localonly.txt", "from the project's own repository")
    local.with_suffix(".pom").write_text(pom_xml(LOCAL_ONLY))
    (root / "src/test/java/app/AppTest.java").write_text(
        "package app;\nimport org.junit.Assert;\nimport org.junit.Test;\n"
        "public class AppTest {\n"
        "  @Test public void textutilAndItsDependencyFromTheMirror() {\n"
        '    Assert.assertEquals("Abc", org.apache.commons.lang3.StringUtils.capitalize("abc"));\n'
        '    Assert.assertEquals("txt", org.apache.commons.io.FilenameUtils.getExtension("a.txt"));\n  }\n'
        "  @Test public void debiansCommonsCliAndTheProjectsOwnRepository() throws Exception {\n"
        '    Assert.assertTrue(new org.apache.commons.cli.Options().addOption("v", false, "").hasOption("v"));\n'
        '    try (java.io.InputStream in = getClass().getResourceAsStream("/localonly.txt")) {\n'
        "      Assert.assertNotNull(in);\n    }\n  }\n}\n"
    )
    return root


def mirrored(settings: Settings, url: str) -> DockerExecutor:
    return DockerExecutor(settings.model_copy(update={"MAVEN_MIRROR_URL": url}))


def test_artifacts_debian_lacks_come_from_the_mirror_and_the_projects_repository_and_tests_run_offline(
    tmp_path: Path, settings: Settings, project_id: str, maven_mirror: MavenMirror
) -> None:
    executor = mirrored(settings, maven_mirror.url)
    publish_textutil(maven_mirror)
    workspace = maven_project(tmp_path / "app", uuid.uuid4().hex)

    created = executor.create_project_container(project_id, str(workspace), "java")

    assert created.success and created.container_id, created.error
    assert created.image and "java-deps:" in created.image
    assert {"/" + TEXTUTIL.path("jar"), "/" + TEXTUTIL.path("jar") + ".sha1", "/" + PARENT.path()} <= set(
        maven_mirror.requests
    )
    assert not any("junit" in r or "localonly" in r for r in maven_mirror.requests)  # Debian's, and the project's
    assert any("commons-cli:commons-cli:1.2 -> debian" in w for w in created.warnings), created.warnings
    tests = executor.run_tests(created.container_id, "java")
    assert (tests.tests_passed, tests.tests_failed, tests.tests_errored) == (2, 0, 0), tests.output
    # The sandbox that runs the project's tests has no network: only the loopback interface.
    interfaces = executor.execute_in_container(created.container_id, INTERFACES)
    assert interfaces.output.split() == ["lo"], interfaces.output

    # A second create of the unchanged project fetches nothing: the layer is reused.
    asked = len(maven_mirror.requests)
    messages: list[str] = []
    again = executor.create_project_container(project_id, str(workspace), "java", progress=messages.append)
    assert again.success and again.image == created.image, again.error
    assert not any("fetching" in m for m in messages), messages
    assert len(maven_mirror.requests) == asked
    assert build_leftovers(executor, project_id) == []


@pytest.mark.parametrize("mirror_set", [True, False], ids=["mirror-lacks-it", "no-mirror"])
def test_an_artifact_that_cannot_be_had_is_a_clear_error_naming_it(
    tmp_path: Path, settings: Settings, project_id: str, maven_mirror: MavenMirror, mirror_set: bool
) -> None:
    publish_textutil(maven_mirror)
    executor = mirrored(settings, maven_mirror.url) if mirror_set else DockerExecutor(settings)
    extra = dependency("com.example", "absent", "9.9")
    workspace = maven_project(tmp_path / "app", uuid.uuid4().hex, extra)

    ok, container_id, error = executor.create_project_container(project_id, str(workspace), "java")

    assert (ok, container_id) == (False, None)
    assert error is not None
    if mirror_set:
        assert "com.example:absent:9.9: not found on the Maven mirror (MAVEN_MIRROR_URL)" in error
        assert "textutil" not in error and "localonly" not in error
    else:
        reason = "not in the image's Debian repository nor in the project's own repository, and MAVEN_MIRROR_URL"
        assert f"com.example:absent:9.9: {reason}" in error and f"com.example:textutil:1.0: {reason}" in error
        assert "localonly" not in error and maven_mirror.requests == []
    assert build_leftovers(executor, project_id) == []


def test_the_mirror_is_checked_against_its_sha1_and_a_missing_file_is_not_an_error(
    maven_mirror: MavenMirror,
) -> None:
    maven_mirror.publish(TEXTIO, pom_xml(TEXTIO), b"jar bytes", sha1=True)
    mirror = Mirror(maven_mirror.url.replace("http://", "http://user:secret@") + "/", Budget(2**20, 30))
    assert mirror.get(TEXTIO.path("jar")) == b"jar bytes"
    assert mirror.get("com/example/none/1/none-1.pom") is None
    (maven_mirror.root / TEXTIO.path("jar")).write_bytes(b"tampered")
    with pytest.raises(SourceError, match=r"textio-1.0.jar does not match the mirror's .sha1"):
        mirror.get(TEXTIO.path("jar"))
    with pytest.raises(SourceError, match="DEPS_MAX_MB") as over:
        Mirror(maven_mirror.url, Budget(4, 30)).get(TEXTIO.path("pom"))
    assert "secret" not in str(over.value) and mirror.base == maven_mirror.url
