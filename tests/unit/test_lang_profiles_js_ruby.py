"""The JavaScript/TypeScript and Ruby profiles as data: loading, aliases, framework selection (no Docker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_exec.errors import UnknownLanguageError
from sigma_exec.languages import detect_language, list_workspace_files, resolve_language, select_framework
from sigma_exec.reports import COVERAGE_KINDS, TEST_REPORT_KINDS, parse_coverage, parse_test_report

SAMPLES = Path(__file__).parents[1] / "samples"
DATA = Path(__file__).parents[1] / "data" / "reports"
REPORTS = "/tmp/sigma-reports/abc123"


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("javascript", "javascript"),
        ("js", "javascript"),
        ("JS", "javascript"),
        ("node", "javascript"),
        ("nodejs", "javascript"),
        ("typescript", "javascript"),
        (" ts ", "javascript"),
        ("ruby", "ruby"),
        ("rb", "ruby"),
        ("Ruby", "ruby"),
    ],
)
def test_every_alias_resolves_to_its_profile(alias: str, name: str) -> None:
    assert resolve_language(alias).name == name


def test_a_near_miss_alias_is_refused_by_name() -> None:
    with pytest.raises(UnknownLanguageError, match="'rubby'"):
        resolve_language("rubby")


@pytest.mark.parametrize(
    ("files", "framework"),
    [
        ({".rspec", "spec", "spec/calc_spec.rb", "lib", "lib/calc.rb", "Gemfile"}, "rspec"),
        ({"spec", "spec/models"}, "rspec"),
        ({"calc_spec.rb"}, "rspec"),
        ({"test", "test/calc_test.rb", "Rakefile", "lib/calc.rb"}, "minitest"),
        ({"test", "test/unit"}, "minitest"),
        ({"test_calc.rb", "calc.rb"}, "minitest"),
        ({"calc_test.rb"}, "minitest"),
        ({"Gemfile", "lib", "lib/calc.rb"}, "rspec"),
        ({"spec", "spec/a_spec.rb", "test", "test/a_test.rb"}, "rspec"),
    ],
)
def test_ruby_picks_rspec_or_minitest_from_the_workspace_files(files: set[str], framework: str) -> None:
    assert select_framework(resolve_language("ruby"), files).name == framework


@pytest.mark.parametrize(
    "files",
    [
        {"package.json", "__tests__", "__tests__/calc.test.js", "src/calc.js"},
        {"package.json", "tsconfig.json", "src/calc.ts", "tests/calc.test.ts"},
        {"jest.config.js", "calc.spec.mjs"},
        {"index.test.ts"},
    ],
)
def test_javascript_and_typescript_projects_run_jest(files: set[str]) -> None:
    assert select_framework(resolve_language("ts"), files).name == "jest"


@pytest.mark.parametrize(
    ("sample", "language", "framework"),
    [
        ("js_calc", "javascript", "jest"),
        ("ts_calc", "javascript", "jest"),
        ("ruby_rspec", "ruby", "rspec"),
        ("ruby_minitest", "ruby", "minitest"),
    ],
)
def test_each_sample_project_is_detected_and_gets_its_framework(sample: str, language: str, framework: str) -> None:
    files = list_workspace_files(SAMPLES / sample)
    profile = detect_language(files)
    assert profile is not None and profile.name == language
    assert select_framework(profile, files).name == framework


@pytest.mark.parametrize("sample", ["js_calc", "ts_calc", "ruby_rspec", "ruby_minitest"])
def test_each_sample_change_set_is_a_list_of_files_with_content(sample: str) -> None:
    changes = json.loads((SAMPLES / f"{sample}_changes.json").read_text())
    assert changes and all(set(change) == {"filepath", "content"} for change in changes)
    assert all((SAMPLES / sample / change["filepath"]).parent.is_dir() for change in changes)


@pytest.mark.parametrize("language", ["javascript", "ruby"])
def test_commands_fill_in_the_reports_directory_and_read_known_report_kinds(language: str) -> None:
    for framework in resolve_language(language).frameworks:
        command = framework.test_command.format(reports=REPORTS, workspace="/workspace")
        env = {k: v.format(reports=REPORTS, workspace="/workspace") for k, v in framework.test_env.items()}
        assert REPORTS in command
        assert "{reports}" not in command + "".join(env.values())
        assert {spec.kind for spec in framework.reports} <= TEST_REPORT_KINDS
        assert {spec.kind for spec in framework.coverage} <= COVERAGE_KINDS
        assert framework.build_command.strip()


@pytest.mark.parametrize("language", ["javascript", "ruby"])
def test_helper_files_live_outside_the_workspace_and_every_one_is_used(language: str) -> None:
    profile = resolve_language(language)
    used = "".join(
        f.test_command + f.build_command + "".join(f.test_env.values()) for f in profile.frameworks
    ) + "".join(profile.image.files.values())
    # A file under a load path that RUBYOPT gives (`-I dir`) is found by name there (minitest's plugins).
    flags = [flag for f in profile.frameworks for flag in f.test_env.get("RUBYOPT", "").split()]
    load_paths = {flag[2:] + "/" for flag in flags if flag.startswith("-I/")}
    for path in profile.image.files:
        assert path.startswith("/usr/share/sigma-exec/")
        assert path in used or any(path.startswith(d) for d in load_paths), path


def test_the_javascript_image_is_offline_and_carries_node_jest_and_tsc() -> None:
    image = resolve_language("javascript").image
    assert {"nodejs", "npm", "jest", "node-typescript"} <= set(image.packages)
    assert image.env["npm_config_offline"] == "true"


def test_the_ruby_image_carries_rspec_minitest_rake_bundler_and_simplecov() -> None:
    image = resolve_language("ruby").image
    assert {"ruby", "ruby-rspec", "ruby-minitest", "rake", "bundler", "ruby-simplecov"} <= set(image.packages)


def test_ruby_tests_never_go_through_bundle_exec() -> None:
    for framework in resolve_language("ruby").frameworks:
        assert "bundle" not in framework.test_command


@pytest.mark.parametrize(
    ("kind", "name", "counts"),
    [
        ("jest", "jest-js-sample.json", (3, 1, 2, 0)),
        ("jest", "jest-ts-syntax-error.json", (3, 1, 1, 1)),
        ("rspec", "rspec-sample.json", (3, 1, 2, 0)),
        ("minitest", "minitest-load-error.txt", (3, 1, 1, 1)),
    ],
)
def test_captured_reports_of_the_samples_give_exact_counts(kind: str, name: str, counts: tuple[int, ...]) -> None:
    report = parse_test_report(kind, (DATA / name).read_bytes())
    assert (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored) == counts


def test_a_captured_jest_suite_that_fails_to_compile_carries_the_message() -> None:
    report = parse_test_report("jest", (DATA / "jest-ts-syntax-error.json").read_bytes())
    assert report.error is not None and "SyntaxError" in report.error


def test_a_captured_minitest_load_error_names_the_broken_file() -> None:
    report = parse_test_report("minitest", (DATA / "minitest-load-error.txt").read_bytes())
    errored = [case for case in report.cases if case.outcome == "errored"]
    assert len(errored) == 1 and "broken_test.rb" in errored[0].name
    assert errored[0].message is not None and "syntax error" in errored[0].message


def test_the_simplecov_helper_writes_what_the_simplecov_kind_reads() -> None:
    found = parse_coverage("simplecov", (DATA / "simplecov-sigma-last_run.json").read_bytes())
    assert found is not None and 0 < found.percent <= 100
