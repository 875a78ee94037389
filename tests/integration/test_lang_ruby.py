"""Ruby (RSpec and minitest) through the DockerExecutor API, on a real engine with Debian's offline toolchain."""

from __future__ import annotations

import json
from pathlib import Path

from sigma_exec import DockerExecutor
from sigma_exec.models import TestResult
from tests.conftest import labelled_containers

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _counts(result: TestResult) -> tuple[int | None, ...]:
    return (result.tests_passed, result.tests_failed, result.tests_skipped, result.tests_errored)


def _changes(sample: str) -> list[dict[str, str]]:
    return json.loads((SAMPLES / f"{sample}_changes.json").read_text())


def test_an_rspec_project_is_tested_fixed_and_built_without_touching_its_gemfile(
    executor: DockerExecutor, project_id: str
) -> None:
    ok, cid, error = executor.create_project_container(project_id, str(SAMPLES / "ruby_rspec"), "rb")
    assert ok and cid, error

    before = executor.run_tests(cid, "ruby")
    assert _counts(before) == (3, 1, 2, 0), before.output  # a pending and a skipped example
    assert before.success is False and before.framework == "rspec"
    assert before.report_source == "rspec:rspec.json"
    assert before.coverage_percent is not None and 0 < before.coverage_percent <= 100
    assert any(case.name == "Calc refuses to divide by zero" and case.outcome == "failed" for case in before.cases)

    assert executor.apply_changes(cid, _changes("ruby_rspec")).success
    after = executor.run_tests(cid, "rb")
    assert _counts(after) == (5, 0, 2, 0), after.output
    assert after.success is True and after.error is None
    listing = executor.execute_in_container(cid, "ls -A").output.split()
    assert listing == [".rspec", "Gemfile", "lib", "spec"]  # no Gemfile.lock, no coverage/

    build = executor.run_build(cid, "rb")
    assert build.success, build.output
    assert "ruby -wc on 5 Ruby files" in build.output

    assert executor.apply_changes(cid, [{"filepath": "lib/broken.rb", "content": "def broken(:\n"}]).success
    broken = executor.run_build(cid, "ruby")
    assert broken.success is False and "lib/broken.rb" in broken.output

    load_error = {"filepath": "spec/broken_spec.rb", "content": 'require "broken"\n'}
    assert executor.apply_changes(cid, [load_error]).success
    errored = executor.run_tests(cid, "rb")
    assert _counts(errored) == (0, 0, 0, 1), errored.output  # RSpec runs nothing when a file fails to load
    assert errored.success is False and errored.error is not None and "SyntaxError" in errored.error

    assert executor.stop_container(cid) is True
    assert labelled_containers(executor, project_id) == []


def test_a_minitest_project_is_tested_fixed_and_built_with_its_rake_build_task(
    executor: DockerExecutor, project_id: str
) -> None:
    ok, cid, error = executor.create_project_container(project_id, str(SAMPLES / "ruby_minitest"), "ruby")
    assert ok and cid, error

    before = executor.run_tests(cid, "ruby")
    assert _counts(before) == (3, 1, 1, 0), before.output
    assert before.success is False and before.framework == "minitest"
    assert before.coverage_percent is not None and 0 < before.coverage_percent <= 100
    assert "5 runs" in before.output  # the runner's output is still shown

    assert executor.apply_changes(cid, _changes("ruby_minitest")).success
    after = executor.run_tests(cid, "rb")
    assert _counts(after) == (5, 0, 1, 0), after.output
    assert after.success is True

    build = executor.run_build(cid, "ruby")
    assert build.success, build.output
    assert "rake build" in build.output and "build ok" in build.output

    assert executor.apply_changes(cid, [{"filepath": "lib/broken.rb", "content": "class Broken\n"}]).success
    broken = executor.run_build(cid, "ruby")
    assert broken.success is False and "lib/broken.rb" in broken.output

    syntax_error = {"filepath": "test/broken_test.rb", "content": "class BrokenTest < Minitest::Test\n  def\nend\n"}
    assert executor.apply_changes(cid, [syntax_error]).success
    errored = executor.run_tests(cid, "ruby")
    assert _counts(errored) == (5, 0, 1, 1), errored.output
    assert errored.success is False
    assert any(case.outcome == "errored" and "broken_test.rb" in case.name for case in errored.cases)

    assert executor.cleanup_project(project_id).success
    assert labelled_containers(executor, project_id) == []
