"""Ruby (RSpec and minitest) through the DockerExecutor API, on a real engine with Debian's offline toolchain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sigma_exec import DockerExecutor
from sigma_exec.models import TestResult
from tests.conftest import labelled_containers
from tests.integration.verdict_helpers import write_files

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


# ---- the build: one syntax-checking process, the Rakefile loaded once and only where it may define `build` ----

# Parses (`ruby -wc` says Syntax OK) but cannot be compiled: `break` outside a block or loop.
PARSES_ONLY = "def stop\n  break\nend\n"


def test_the_build_checks_every_file_as_ruby_wc_does_in_one_process(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {"lib/ok.rb": "X = 1\n", "lib/unused.rb": "def f\n  x = 1\nend\n", "lib/stop.rb": PARSES_ONLY}
    cid = sandbox(write_files(tmp_path, {**files, "Gemfile": 'source "https://rubygems.org"\n'}), "ruby")

    # Given files that parse, one with a warning and one that only `ruby -wc` (never a compile) accepts.
    build = executor.run_build(cid, "ruby")
    assert build.success, build.output
    assert "sigma-exec: ruby -wc on 4 Ruby files" in build.output
    assert "lib/unused.rb:2: warning: assigned but unused variable - x" in build.output  # -w, as before
    assert "ruby-syntax.rb" not in build.output and "rake" not in build.output  # no Rakefile: no rake

    # When two files break, the build fails naming both (every file is checked, not up to the first error).
    broken = [{"filepath": "lib/a.rb", "content": "def a(:\n"}, {"filepath": "lib/b.rb", "content": "class B\n"}]
    assert executor.apply_changes(cid, broken).success
    failed = executor.run_build(cid, "ruby")
    assert not failed.success and "lib/a.rb:1" in failed.output and "lib/b.rb:1" in failed.output, failed.output
    assert "sigma-exec: ruby -wc on 6 Ruby files" in failed.output


RAKE_TEST_ONLY = 'require "rake/testtask"\n\nRake::TestTask.new(:test) { |t| t.libs << "test" }\ntask default: :test\n'


def test_a_rakefile_that_cannot_define_build_is_not_loaded_and_one_that_may_runs_its_build_once(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # Given a Rakefile that would fail the build if it were loaded, yet mentions no build and loads nothing.
    noisy = RAKE_TEST_ONLY + 'abort "loaded"\n'
    cid = sandbox(write_files(tmp_path, {"Rakefile": noisy, "lib/x.rb": "X = 1\n"}), "ruby")
    build = executor.run_build(cid, "ruby")
    assert build.success and "the Rakefile defines no build task" in build.output, build.output
    assert "loaded" not in build.output

    # A build task from a file the Rakefile loads runs, once (its side effect counts the runs).
    tasks = 'task(:build) { File.write("/tmp/builds", File.read("/tmp/builds").to_s + "x") rescue nil; puts "built" }\n'
    loads = [{"filepath": "Rakefile", "content": RAKE_TEST_ONLY + 'import "tasks/build.rake"\n'}]
    assert executor.apply_changes(cid, [*loads, {"filepath": "tasks/build.rake", "content": tasks}]).success
    assert executor.execute_in_container(cid, "touch /tmp/builds").success
    build = executor.run_build(cid, "ruby")
    assert build.success and "sigma-exec: rake build" in build.output and "built" in build.output, build.output
    assert executor.execute_in_container(cid, "cat /tmp/builds").output.strip() == "x"

    # A failing build task fails the build; a Rakefile that does not load has no build task, as with `rake -P`.
    failing = [{"filepath": "tasks/build.rake", "content": 'task(:build) { abort "build broke" }\n'}]
    assert executor.apply_changes(cid, failing).success
    broke = executor.run_build(cid, "ruby")
    assert not broke.success and "build broke" in broke.output, broke.output
    unloadable = [{"filepath": "Rakefile", "content": 'require "no/such/gem"\ntask(:build) { abort "ran" }\n'}]
    assert executor.apply_changes(cid, unloadable).success
    quiet = executor.run_build(cid, "ruby")
    assert quiet.success and "the Rakefile defines no build task" in quiet.output, quiet.output
    assert "LoadError" not in quiet.output and "rake aborted" not in quiet.output


def test_a_file_no_test_loads_that_does_not_parse_fails_the_build_before_the_rake_build_task_runs(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # Given a Rakefile with a build task (it counts its runs) that prints while it loads, and a file no test loads.
    rakefile = 'puts "rakefile loaded"\ntask(:build) { File.write("/tmp/builds", "x", mode: "a"); puts "built" }\n'
    cid = sandbox(write_files(tmp_path, {"Rakefile": rakefile, "lib/unused.rb": "X = 1\n"}), "ruby")

    # The syntax check's output comes first, then what the Rakefile printed, then its build task's.
    build = executor.run_build(cid, "ruby")
    assert build.success, build.output
    order = ["sigma-exec: ruby -wc on 2 Ruby files", "rakefile loaded", "sigma-exec: rake build", "built"]
    assert [build.output.index(line) for line in order] == sorted(build.output.index(line) for line in order)

    # When the unused file no longer parses, the build fails naming it, and the build task never runs.
    assert executor.apply_changes(cid, [{"filepath": "lib/unused.rb", "content": "def x(:\n"}]).success
    broken = executor.run_build(cid, "ruby")
    assert not broken.success and "lib/unused.rb:1" in broken.output, broken.output
    assert "built" not in broken.output and "sigma-exec: rake build" not in broken.output
    assert executor.execute_in_container(cid, "cat /tmp/builds").output.strip() == "x"  # the first build's run only
