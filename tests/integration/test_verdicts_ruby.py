"""Ruby verdicts an agent can trust: cases re-run by id, flaky told from broken, no stale test or build.

Neither RSpec, minitest, rake nor ruby-build.sh (`ruby -wc` on every file) keeps anything between two
runs: Ruby compiles every file it loads afresh. The one cache a Ruby project can bring, Bootsnap's
compile cache (keyed by a file's mtime in whole seconds and its size), is switched off by the image's
environment; Spring's preloaded app server too. These scenarios prove it on the real engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sigma_exec import DockerExecutor
from tests.integration.verdict_helpers import outcomes as _outcomes
from tests.integration.verdict_helpers import write_files as _write

# Ruby that sets `first` on the first run in a sandbox only: a marker file under /tmp remembers it.
FAIL_ONCE = 'first = !File.exist?("{marker}"); File.write("{marker}", "")'

RSPEC_SUITE = f"""RSpec.describe "Calc" do
  describe "adding" do
    it("adds") {{ expect(1 + 1).to eq(2) }}
    it("adds wrong") {{ expect(1 + 1).to eq(3) }}
    [[1, 2], [2, 4]].each do |a, b|
      it("doubles #{{a}}") {{ expect(a * 2).to eq(b) }}
    end
  end
  it("subtracts") {{ expect(2 - 1).to eq(1) }}
  it("is flaky") do
    {FAIL_ONCE.format(marker="/tmp/sigma-rspec-flaky")}
    expect(first).to be(false)
  end
end
"""
MINITEST_SUITE = f"""require "minitest/autorun"

class CalcTest < Minitest::Test
  def test_adds = assert_equal(2, 1 + 1)
  def test_adds_wrong = assert_equal(3, 1 + 1)
  def test_adds_twice = assert_equal(4, 2 + 2)

  def test_flaky
    {FAIL_ONCE.format(marker="/tmp/sigma-minitest-flaky")}
    refute first, "fails the first time only"
  end
end

describe "Calc spec" do
  it("subtracts #1") {{ _(2 - 1).must_equal 1 }}
end
"""

# add passes and sub fails; the edits below keep the file's size byte for byte.
CALC = "module Calc\n  def self.add(a, b) = a + b\n  def self.sub(a, b) = a + b\nend\n"
CALC_FLIPPED = "module Calc\n  def self.add(a, b) = a - b\n  def self.sub(a, b) = a - b\nend\n"
CALC_BROKEN = "module Calc\n  def self.add(a, b) = a - b\n  def self.sub(a, b) = a - (\nend\n"
TWICE = 'require "calc"\n\nmodule Twice\n  def self.of(a) = Calc.add(a, a)\nend\n'
CALC_SPEC = """require "calc"

RSpec.describe Calc do
  it("adds") { expect(Calc.add(2, 3)).to eq(5) }
  it("subtracts") { expect(Calc.sub(5, 3)).to eq(2) }
end
"""
TWICE_SPEC = 'require "twice"\n\nRSpec.describe Twice do\n  it("doubles") { expect(Twice.of(2)).to eq(4) }\nend\n'
CALC_TEST = """require "minitest/autorun"
require "calc"

class CalcTest < Minitest::Test
  def test_adds = assert_equal(5, Calc.add(2, 3))
  def test_subtracts = assert_equal(2, Calc.sub(5, 3))
end
"""
TWICE_TEST = """require "minitest/autorun"
require "twice"

class TwiceTest < Minitest::Test
  def test_doubles = assert_equal(4, Twice.of(2))
end
"""


# ---- re-run selection ---------------------------------------------------------------------------------


def test_rspec_reruns_exactly_the_examples_named_and_tells_a_flaky_one_from_a_broken_one(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    workspace = _write(tmp_path, {"spec/calc_spec.rb": RSPEC_SUITE, "evil.rb": 'File.write("/tmp/evil-ran", "")\n'})
    cid = sandbox(workspace, "ruby")
    spec = "./spec/calc_spec.rb"

    result = executor.run_tests(cid, "ruby", rerun_failed=True)

    assert _outcomes(result) == {
        f"{spec}[1:1:1]": "passed",
        f"{spec}[1:1:2]": "failed",
        f"{spec}[1:1:3]": "passed",  # two examples made in a loop on one line: told apart by id
        f"{spec}[1:1:4]": "passed",
        f"{spec}[1:2]": "passed",
        f"{spec}[1:3]": "failed",
    }, result.output
    assert (result.success, result.tests_failed) == (False, 2)  # the first run's verdict stands
    assert result.flaky == [f"{spec}[1:3]"]
    assert _outcomes(result.rerun_cases) == {f"{spec}[1:1:2]": "failed", f"{spec}[1:3]": "passed"}

    two = executor.rerun_tests(cid, [f"{spec}[1:1:1]", f"{spec}[1:2]"], "ruby")
    assert _outcomes(two) == {f"{spec}[1:1:1]": "passed", f"{spec}[1:2]": "passed"}, two.output
    assert two.success and (two.tests_passed, two.tests_failed) == (2, 0)

    # Ids are data: neither shell text nor an option of rspec's (they follow `--`), so nothing runs.
    hostile = ["$(touch /tmp/pwned)", "--require=/workspace/evil.rb", "'; touch /tmp/pwned #"]
    nothing = executor.rerun_tests(cid, hostile, "ruby")
    assert nothing.success is False and nothing.cases == [], nothing.output
    assert executor.execute_in_container(cid, "ls /tmp/pwned /tmp/evil-ran 2>/dev/null | wc -l").output.strip() == "0"


def test_minitest_reruns_exactly_the_cases_named_and_tells_a_flaky_one_from_a_broken_one(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(_write(tmp_path, {"test/calc_test.rb": MINITEST_SUITE}), "ruby")
    spec_case = "Calc spec#test_0001_subtracts #1"

    result = executor.run_tests(cid, "ruby", rerun_failed=True)

    assert _outcomes(result) == {
        "CalcTest#test_adds": "passed",
        "CalcTest#test_adds_wrong": "failed",
        "CalcTest#test_adds_twice": "passed",
        "CalcTest#test_flaky": "failed",
        spec_case: "passed",
    }, result.output
    assert result.report_source == "minitest:minitest-*.json"
    assert (result.success, result.tests_passed, result.tests_failed) == (False, 3, 2)
    assert result.flaky == ["CalcTest#test_flaky"]
    assert _outcomes(result.rerun_cases) == {"CalcTest#test_adds_wrong": "failed", "CalcTest#test_flaky": "passed"}

    # `CalcTest#test_adds` is matched whole: test_adds_twice and test_adds_wrong do not run with it.
    two = executor.rerun_tests(cid, ["CalcTest#test_adds", spec_case], "ruby")
    assert _outcomes(two) == {"CalcTest#test_adds": "passed", spec_case: "passed"}, two.output
    assert two.success and (two.tests_passed, two.tests_failed) == (2, 0)

    # Ids are data, never patterns: a regexp in one selects nothing.
    nothing = executor.rerun_tests(cid, ["CalcTest#test_.*", "CalcTest#test_adds|CalcTest#test_flaky", "/./"], "ruby")
    assert nothing.success is False and nothing.cases == [] and nothing.tests_passed == 0, nothing.output


def test_a_custom_minitest_command_reports_every_case_and_plain_output_is_still_read(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    rakefile = 'require "rake/testtask"\n\nRake::TestTask.new(:test) { |t| t.pattern = "test/**/*_test.rb" }\n'
    cid = sandbox(_write(tmp_path, {"test/calc_test.rb": MINITEST_SUITE, "Rakefile": rakefile}), "ruby")

    # `rake test` runs minitest in a process of its own: sigma-exec's plugin still writes every case.
    raked = executor.run_tests(cid, "ruby", test_command="rake test")
    assert raked.report_source == "minitest:minitest-*.json", raked.output
    assert len(raked.cases) == 5 and (raked.tests_passed, raked.tests_failed) == (3, 2)

    # Without plugins, the summary line that the command leaves in minitest.txt gives the counts.
    plain = 'MT_NO_PLUGINS=1 ruby -Itest test/calc_test.rb > "$SIGMA_REPORTS_DIR/minitest.txt"'
    printed = executor.run_tests(cid, "ruby", test_command=plain)
    assert printed.report_source == "minitest:minitest.txt", printed.output
    assert (printed.tests_passed, printed.tests_failed) == (4, 1)  # the flaky test passes from now on
    assert _outcomes(printed) == {"CalcTest#test_adds_wrong": "failed"}


# ---- no stale results ---------------------------------------------------------------------------------


def _check_fresh(
    executor: DockerExecutor, cid: str, ids: tuple[str, str, str], twice_file: str, broken_message: str
) -> None:
    """Run, build, then same-size edits, a syntax error and deleted files: each next step sees them."""
    add, sub, doubles = ids
    first = executor.run_tests(cid, "ruby")
    assert _outcomes(first) == {add: "passed", sub: "failed", doubles: "passed"}, first.output
    assert executor.run_build(cid, "ruby").success

    # A same-size edit makes the passing test fail and the failing one pass, in the run and in a re-run.
    assert len(CALC_FLIPPED) == len(CALC)
    assert executor.apply_changes(cid, [{"filepath": "lib/calc.rb", "content": CALC_FLIPPED}]).success
    flipped = executor.run_tests(cid, "ruby")
    assert _outcomes(flipped) == {add: "failed", sub: "passed", doubles: "failed"}, flipped.output
    assert _outcomes(executor.rerun_tests(cid, [add, sub], "ruby")) == {add: "failed", sub: "passed"}
    assert executor.run_build(cid, "ruby").success

    # Back to the first content with the flipped file's size and mtime: the content decides.
    restore = f"cp -p lib/calc.rb /tmp/stamp && printf '%s' '{CALC}' > lib/calc.rb && touch -r /tmp/stamp lib/calc.rb"
    assert executor.execute_in_container(cid, restore).success
    assert _outcomes(executor.run_tests(cid, "ruby")) == {add: "passed", sub: "failed", doubles: "passed"}

    # A same-size edit that no longer parses fails the next build, and the next test run.
    assert len(CALC_BROKEN) == len(CALC)
    assert executor.apply_changes(cid, [{"filepath": "lib/calc.rb", "content": CALC_BROKEN}]).success
    broken = executor.run_build(cid, "ruby")
    assert not broken.success and "lib/calc.rb" in broken.output, broken.output
    errored = executor.run_tests(cid, "ruby")
    assert errored.success is False and broken_message in (errored.error or "") + errored.output, errored.output

    # A deleted test file takes its test with it; a deleted source file is gone for the tests that need it.
    gone = [{"filepath": "lib/calc.rb", "content": CALC}, {"filepath": twice_file, "delete": True}]
    assert executor.apply_changes(cid, gone).success
    assert _outcomes(executor.run_tests(cid, "ruby")) == {add: "passed", sub: "failed"}
    assert executor.run_build(cid, "ruby").success
    assert executor.apply_changes(cid, [{"filepath": "lib/calc.rb", "delete": True}]).success
    missing = executor.run_tests(cid, "ruby")
    assert missing.success is False and "cannot load such file -- calc" in missing.output, missing.output


def test_rspec_runs_and_builds_see_same_size_edits_broken_code_and_deleted_files(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {".rspec": "-I lib\n", "lib/calc.rb": CALC, "lib/twice.rb": TWICE, "spec/calc_spec.rb": CALC_SPEC}
    cid = sandbox(_write(tmp_path, {**files, "spec/twice_spec.rb": TWICE_SPEC}), "ruby")
    ids = ("./spec/calc_spec.rb[1:1]", "./spec/calc_spec.rb[1:2]", "./spec/twice_spec.rb[1:1]")
    _check_fresh(executor, cid, ids, "spec/twice_spec.rb", "SyntaxError")


def test_minitest_runs_and_builds_see_same_size_edits_broken_code_and_deleted_files(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {"lib/calc.rb": CALC, "lib/twice.rb": TWICE, "test/calc_test.rb": CALC_TEST}
    cid = sandbox(_write(tmp_path, {**files, "test/twice_test.rb": TWICE_TEST}), "ruby")
    ids = ("CalcTest#test_adds", "CalcTest#test_subtracts", "TwiceTest#test_doubles")
    _check_fresh(executor, cid, ids, "test/twice_test.rb", "SyntaxError")


def test_bootsnap_and_spring_are_switched_off_for_tests_and_builds(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    switches = "%w[DISABLE_BOOTSNAP DISABLE_BOOTSNAP_COMPILE_CACHE DISABLE_BOOTSNAP_LOAD_PATH_CACHE DISABLE_SPRING]"
    on = f'{switches}.reject {{ |k| ENV[k] == "1" }}'
    test = f"require 'minitest/autorun'\n\nclass EnvTest < Minitest::Test\n  def test_off = assert_empty({on})\nend\n"
    rakefile = f'task(:build) {{ abort "on: #{{{on}}}" unless {on}.empty?; puts "all off" }}\n'
    cid = sandbox(_write(tmp_path, {"test/env_test.rb": test, "Rakefile": rakefile}), "ruby")
    result = executor.run_tests(cid, "ruby")
    assert result.success and _outcomes(result) == {"EnvTest#test_off": "passed"}, result.output
    build = executor.run_build(cid, "ruby")
    assert build.success and "all off" in build.output, build.output
