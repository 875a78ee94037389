"""Java and Go language profiles: they load, aliases resolve, frameworks are chosen from workspace files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sigma_exec.languages import list_workspace_files, load_profiles, resolve_language, select_framework
from sigma_exec.reports import COVERAGE_KINDS, TEST_REPORT_KINDS, parse_coverage, parse_test_report

SAMPLES = Path(__file__).parents[1] / "samples"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("java", "java"), ("JAVA", "java"), ("jdk", "java"), ("go", "go"), ("golang", "go"), (" GoLang ", "go")],
)
def test_java_and_go_names_and_aliases_resolve_to_their_profile(name: str, canonical: str) -> None:
    assert resolve_language(name).name == canonical


@pytest.mark.parametrize(
    ("files", "framework"),
    [
        ({"pom.xml", "src/main"}, "maven"),
        ({"pom.xml", "build.gradle", "settings.gradle"}, "maven"),
        ({"build.gradle", "src/main"}, "junit-platform"),
        ({"build.gradle.kts", "settings.gradle.kts"}, "junit-platform"),
        ({"settings.gradle", "app/build.gradle"}, "junit-platform"),
        ({"Main.java", "MainTest.java"}, "junit-platform"),
        ({"core/pom.xml", "build.gradle"}, "junit-platform"),
    ],
)
def test_a_java_workspace_with_a_pom_uses_maven_and_any_other_the_console_launcher(
    files: set[str], framework: str
) -> None:
    assert select_framework(resolve_language("java"), files).name == framework


@pytest.mark.parametrize(
    ("sample", "language", "framework"),
    [("java_maven", "java", "maven"), ("java_gradle", "java", "junit-platform"), ("go_calc", "golang", "gotest")],
)
def test_the_sample_projects_select_the_expected_framework(sample: str, language: str, framework: str) -> None:
    files = list_workspace_files(SAMPLES / sample)
    assert select_framework(resolve_language(language), files).name == framework


@pytest.mark.parametrize("language", ["java", "go"])
def test_every_framework_names_known_report_kinds_and_formats_its_command(language: str) -> None:
    profile = load_profiles()[language]
    for framework in profile.frameworks:
        assert framework.reports and all(spec.kind in TEST_REPORT_KINDS for spec in framework.reports)
        assert framework.coverage and all(spec.kind in COVERAGE_KINDS for spec in framework.coverage)
        command = framework.test_command.format(reports="/tmp/sigma-reports/abc", workspace="/workspace")
        assert "/tmp/sigma-reports/abc" in command
        assert framework.build_command.strip()


def test_go_comes_from_backports_with_an_offline_fail_fast_environment() -> None:
    image = load_profiles()["go"].image
    assert "golang-1.23-go" in image.packages and image.extra_suites == ["bookworm-backports"]
    assert image.env["PATH"].startswith("/usr/lib/go-1.23/bin:")
    expected = {"GOPROXY": "off", "GOSUMDB": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    assert "GOFLAGS" not in image.env  # Go picks -mod=vendor by itself for ad-hoc commands
    assert expected.items() <= image.env.items()
    assert all(image.env[key].startswith("/tmp/") for key in ("GOCACHE", "GOPATH"))


def test_java_carries_jdk_maven_junit_and_jacoco_from_debian() -> None:
    image = load_profiles()["java"].image
    wanted = {"default-jdk-headless", "maven", "maven-debian-helper", "junit4", "junit5", "libjacoco-java"}
    assert wanted <= set(image.packages)
    assert "/opt/sigma/java/JacocoXml.java" in image.files


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
@pytest.mark.parametrize(
    "target",
    [t for lang in ("java", "go") for t in sorted(load_profiles()[lang].image.files) if t.endswith(".sh")],
)
def test_every_shipped_shell_script_is_valid_posix_sh(target: str, tmp_path: Path) -> None:
    profile = load_profiles()["java" if "/java/" in target else "go"]
    script = tmp_path / "script.sh"
    script.write_text(profile.image.files[target])
    checked = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


# ---- reports captured from the Java and Go images (tests/data/reports) ----------------------------
DATA = Path(__file__).parents[1] / "data" / "reports"


@pytest.mark.parametrize(
    ("kind", "fixture", "counts", "in_error"),
    [
        # A syntax error under -coverprofile: the cover tool reports it; the other package still passes.
        ("gotest", "gotest-go123-cover-build-failed.jsonl", (1, 0, 0, 1), "calc.go:5:1"),
        # A module missing offline stops go test before any event: one errored run with the go message.
        ("gotest", "gotest-go123-setup-failed.jsonl", (0, 0, 0, 1), "example.com/missing"),
        # maven.sh and plain.sh record a failed compilation as one errored case (sigma-exec.BuildFailure).
        ("junit", "junit-sigma-maven-build-failure.xml", (0, 0, 0, 1), "illegal start of expression"),
        ("junit", "junit-sigma-javac-build-failure.xml", (0, 0, 0, 1), "cannot find symbol"),
        ("junit", "junit-platform-gradle-sample-TEST-junit-vintage.xml", (1, 0, 1, 0), None),
    ],
)
def test_captured_java_and_go_reports_give_exact_counts_and_the_compiler_message(
    kind: str, fixture: str, counts: tuple[int, ...], in_error: str | None
) -> None:
    report = parse_test_report(kind, (DATA / fixture).read_bytes())
    assert (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored) == counts
    if in_error is None:
        assert report.error is None
    else:
        assert report.error is not None and in_error in report.error


def test_plain_text_that_is_not_a_go_error_is_still_an_unreadable_go_report() -> None:
    report = parse_test_report("gotest", b"hello\nworld\n")
    assert report.error == "report unreadable: no go test events" and report.tests_errored is None


def test_the_jacoco_helper_report_gives_line_coverage() -> None:
    found = parse_coverage("jacoco", (DATA / "jacoco-sigma-helper.xml").read_bytes())
    assert found is not None and 0 < found.percent <= 100
