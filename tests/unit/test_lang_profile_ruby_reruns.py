"""The Ruby profile's re-run and report wiring as data (no Docker; tests/integration/test_verdicts_ruby.py runs it)."""

from __future__ import annotations

import pytest

from sigma_exec.languages import resolve_language

RUBY = {framework.name: framework for framework in resolve_language("ruby").frameworks}


@pytest.mark.parametrize(
    ("name", "writes_the_reports"),
    [
        ("rspec", '--format json --out /r/rspec.json -- "$@"'),  # the ids after `--`: never an option
        ("minitest", 'sh /usr/share/sigma-exec/minitest.sh /r "$SIGMA_RERUN_FILE"'),  # the test run's script
    ],
)
def test_each_ruby_framework_reruns_the_ids_of_the_rerun_file_into_the_same_reports(
    name: str, writes_the_reports: str
) -> None:
    framework = RUBY[name]
    rerun = framework.rerun_command.format(reports="/r", workspace="/workspace")
    assert '"$SIGMA_RERUN_FILE"' in rerun and writes_the_reports in rerun
    assert "bundle" not in rerun  # like test_command: plain runners, never `bundle exec`


def test_minitest_reads_the_per_test_json_first_and_the_runners_text_without_it() -> None:
    reports = RUBY["minitest"].reports
    assert [(r.kind, r.path) for r in reports] == [("minitest", "minitest-*.json"), ("minitest", "minitest.txt")]
    env = RUBY["minitest"].test_env
    assert env["SIGMA_MINITEST_DIR"] == "{reports}"
    assert env["RUBYOPT"].startswith("-I/usr/share/sigma-exec/ruby ")  # where minitest finds the plugin
    assert "/usr/share/sigma-exec/ruby/minitest/sigma_exec_plugin.rb" in resolve_language("ruby").image.files


def test_the_ruby_image_switches_bootsnaps_caches_and_spring_off() -> None:
    env = resolve_language("ruby").image.env
    for switch in ("DISABLE_BOOTSNAP", "DISABLE_BOOTSNAP_COMPILE_CACHE", "DISABLE_BOOTSNAP_LOAD_PATH_CACHE"):
        assert env[switch] == "1"
    assert env["DISABLE_SPRING"] == "1"
