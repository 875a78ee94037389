"""Go verdicts an agent can trust: cases re-run by id, flaky told from broken, no stale build or result.

Go's build cache keys every compile, link and vet step by the content of the sources (never their mtime
or size). Its test-result cache does not: it trusts the size and mtime of the files a test opened, so
both go-test.sh and go-rerun.sh pass `-count=1` and no result is ever replayed. These scenarios prove
both on the real engine, in module mode and in GOPATH mode (no go.mod), and after the framework's
`warm_command` (a prepared sandbox: every package and test main compiled before the proposal and
every test binary linked once; go-test.sh copies a test binary from that link cache only for the same link
action ID, go's own key for an up-to-date binary, derived from the content of everything linked in).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor
from sigma_exec.languages import resolve_language
from sigma_exec.models import CaseOutcome, TestResult
from tests.integration.verdict_helpers import outcomes as _outcomes
from tests.integration.verdict_helpers import write_files as _write

GO_MOD = "module example.com/app\n\ngo 1.23\n"
# Fails on its first run in a sandbox and passes after: a marker file under /tmp remembers the first run.
FLAKY_TEST = """package app

import (
	"os"
	"testing"
)

func failOnce(t *testing.T, marker string) {
	if _, err := os.Stat(marker); err != nil {
		_ = os.WriteFile(marker, nil, 0o644)
		t.Fatal("first run fails")
	}
}

func TestFlaky(t *testing.T) { failOnce(t, "/tmp/sigma-go-flaky") }

func TestBroken(t *testing.T) { t.Fatal("always fails") }

func TestTable(t *testing.T) {
	t.Run("steady", func(t *testing.T) {})
	t.Run("flaky once", func(t *testing.T) { failOnce(t, "/tmp/sigma-go-flaky-subtest") })
}

func TestA(t *testing.T) {}

func TestB(t *testing.T) {}
"""
SUB_TEST = 'package sub\n\nimport "testing"\n\nfunc TestA(t *testing.T) {}\n\nfunc TestB(t *testing.T) {}\n'

# Add passes and Mul fails; the edit below swaps one byte of each, so the file keeps its size.
CALC = "package calc\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Mul(a, b int) int { return a + b }\n"
CALC_FLIPPED = "package calc\n\nfunc Add(a, b int) int { return a - b }\n\nfunc Mul(a, b int) int { return a * b }\n"
CALC_BROKEN = "package calc\n\nfunc Add(a, b int) int { return a - c }\n\nfunc Mul(a, b int) int { return a * b }\n"
CALC_TEST = """package calc

import "testing"

func TestAdd(t *testing.T) {
	if Add(2, 3) != 5 {
		t.Fatal("Add(2, 3) != 5")
	}
}

func TestMul(t *testing.T) {
	if Mul(2, 3) != 6 {
		t.Fatal("Mul(2, 3) != 6")
	}
}
"""
TWICE = "package calc\n\nfunc Twice(a int) int { return Add(a, a) }\n"
QUAD = "package calc\n\nfunc Quad(a int) int { return Twice(Twice(a)) }\n"
QUAD_TEST = """package calc

import "testing"

func TestQuad(t *testing.T) {
	if Quad(1) != 4 {
		t.Fatal("Quad")
	}
}
"""


# ---- re-run selection ---------------------------------------------------------------------------------


def test_a_flaky_go_test_and_subtest_are_told_from_one_that_always_fails(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(_write(tmp_path, {"go.mod": GO_MOD, "app_test.go": FLAKY_TEST, "sub/sub_test.go": SUB_TEST}), "go")

    result = executor.run_tests(cid, "go", rerun_failed=True)

    # The first run's verdict stands; the re-run of the failing top-level tests reveals the flaky ones.
    failing = [case.id for case in result.cases if case.outcome is CaseOutcome.FAILED]
    assert failing == [
        "example.com/app::TestFlaky",
        "example.com/app::TestBroken",
        "example.com/app::TestTable/flaky_once",
        "example.com/app::TestTable",
    ], result.output
    assert (result.success, result.tests_failed) == (False, 4)
    assert result.flaky == [
        "example.com/app::TestFlaky",
        "example.com/app::TestTable/flaky_once",
        "example.com/app::TestTable",
    ]
    again = _outcomes(TestResult(success=True, cases=result.rerun_cases))
    assert again["example.com/app::TestBroken"] is CaseOutcome.FAILED
    # Only the failing tests' package and tests ran again: not TestA, nor anything in sub.
    assert set(again) == {
        "example.com/app::TestFlaky",
        "example.com/app::TestBroken",
        "example.com/app::TestTable/steady",
        "example.com/app::TestTable/flaky_once",
        "example.com/app::TestTable",
    }


def test_rerun_tests_runs_exactly_the_go_cases_named_even_where_a_name_repeats_across_packages(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(_write(tmp_path, {"go.mod": GO_MOD, "app_test.go": FLAKY_TEST, "sub/sub_test.go": SUB_TEST}), "go")

    two = executor.rerun_tests(cid, ["example.com/app::TestB", "example.com/app/sub::TestA"], "go")
    assert _outcomes(two) == {
        "example.com/app::TestB": CaseOutcome.PASSED,
        "example.com/app/sub::TestA": CaseOutcome.PASSED,
    }, two.output
    assert two.success and (two.tests_passed, two.tests_failed) == (2, 0)

    # Ids are data: a regexp or a flag in one selects nothing (no package, or no test of that exact name).
    hostile = ["example.com/app::.*", "example.com/app::TestA$|^TestB", "-exec=/bin/false::TestA", "TestA"]
    nothing = executor.rerun_tests(cid, hostile, "go")
    assert nothing.cases == [] and nothing.tests_passed in (0, None), nothing.output


# ---- no stale results ---------------------------------------------------------------------------------


def _warm(executor: DockerExecutor, cid: str) -> None:
    """Run the Go framework's warm_command as a prepared sandbox runs it before the proposal arrives."""
    warm = resolve_language("go").frameworks[0].warm_command
    assert warm.strip()
    executor.execute_in_container(cid, warm, timeout=300)


MODULE = {"go.mod": "module example.com/calc\n\ngo 1.23\n"}


@pytest.mark.parametrize(
    ("layout", "package", "warmed"),
    [
        pytest.param(MODULE, "example.com/calc", False, id="module-mode"),
        pytest.param({}, "_/workspace", False, id="gopath-mode-without-go-mod"),
        pytest.param(MODULE, "example.com/calc", True, id="module-mode-after-the-warm-command"),
    ],
)
def test_go_tests_and_builds_see_same_size_edits_broken_code_and_deleted_files(
    tmp_path: Path,
    executor: DockerExecutor,
    sandbox: Callable[..., str],
    layout: dict[str, str],
    package: str,
    warmed: bool,
) -> None:
    files = {**layout, "calc.go": CALC, "calc_test.go": CALC_TEST, "twice.go": TWICE, "quad.go": QUAD}
    cid = sandbox(_write(tmp_path, {**files, "quad_test.go": QUAD_TEST}), "go")
    if warmed:
        _warm(executor, cid)
    add, mul, quad = (f"{package}::{name}" for name in ("TestAdd", "TestMul", "TestQuad"))

    # Given a run and a build: Add and Quad pass, Mul fails; the build cache now holds every package.
    first = executor.run_tests(cid, "go")
    assert _outcomes(first) == {add: "passed", mul: "failed", quad: "passed"}, first.output
    assert executor.run_build(cid, "go").success

    # A same-size edit makes the passing test fail and the failing one pass, in the run and in a re-run.
    assert len(CALC_FLIPPED) == len(CALC)
    assert executor.apply_changes(cid, [{"filepath": "calc.go", "content": CALC_FLIPPED}]).success
    flipped = executor.run_tests(cid, "go")
    assert _outcomes(flipped) == {add: "failed", mul: "passed", quad: "failed"}, flipped.output
    assert _outcomes(executor.rerun_tests(cid, [add, mul], "go")) == {add: "failed", mul: "passed"}
    assert executor.run_build(cid, "go").success

    # Back to the first content with the flipped file's mtime: content, not (size, mtime), decides.
    restore = f"touch -r calc.go /tmp/stamp && printf '%s' '{CALC}' > calc.go && touch -r /tmp/stamp calc.go"
    assert executor.execute_in_container(cid, restore).success
    assert _outcomes(executor.run_tests(cid, "go")) == {add: "passed", mul: "failed", quad: "passed"}

    # A same-size edit that no longer compiles fails the next build and errors the next test run.
    assert len(CALC_BROKEN) == len(CALC)
    assert executor.apply_changes(cid, [{"filepath": "calc.go", "content": CALC_BROKEN}]).success
    broken = executor.run_build(cid, "go")
    assert not broken.success and "calc.go:3" in broken.output and "undefined: c" in broken.output, broken.output
    errored = executor.run_tests(cid, "go")
    assert (errored.success, errored.tests_errored, errored.cases) == (False, 1, []), errored.output

    # A deleted test file takes its test with it; a deleted source file fails the build that needs it.
    gone = [{"filepath": "calc.go", "content": CALC}, {"filepath": "quad_test.go", "delete": True}]
    assert executor.apply_changes(cid, gone).success
    assert _outcomes(executor.run_tests(cid, "go")) == {add: "passed", mul: "failed"}
    assert executor.run_build(cid, "go").success
    assert executor.apply_changes(cid, [{"filepath": "twice.go", "delete": True}]).success
    missing = executor.run_build(cid, "go")
    assert not missing.success and "undefined: Twice" in missing.output, missing.output
    after = executor.run_tests(cid, "go")
    assert (after.success, after.tests_errored, after.cases) == (False, 1, []), after.output


GOLDEN_TEST = """package app

import (
	"os"
	"testing"
)

func TestGolden(t *testing.T) {
	got, err := os.ReadFile("testdata/golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "pass\\n" {
		t.Fatalf("golden = %q", got)
	}
}
"""


def test_a_test_data_file_edited_in_place_with_its_old_mtime_is_read_again_not_replayed_from_go_s_cache(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # Go caches a test's result keyed by the size and mtime of the files it opened (when older than 2 s):
    # without -count=1 the re-run after the edit would replay `(cached)` and pass. (go-test.sh's
    # -coverprofile happens to keep go from caching today; its -count=1 does not rely on that.)
    _write(tmp_path, {"go.mod": GO_MOD, "golden_test.go": GOLDEN_TEST, "testdata/golden.txt": "pass\n"})
    os.utime(tmp_path / "testdata" / "golden.txt", (1_577_836_800, 1_577_836_800))  # 2020, kept by the sandbox
    cid = sandbox(tmp_path, "go")
    golden = "example.com/app::TestGolden"
    assert _outcomes(executor.run_tests(cid, "go")) == {golden: "passed"}
    assert _outcomes(executor.rerun_tests(cid, [golden], "go")) == {golden: "passed"}

    same_stat = "touch -r testdata/golden.txt /tmp/stamp && printf 'fail\\n' > testdata/golden.txt"
    assert executor.execute_in_container(cid, f"{same_stat} && touch -r /tmp/stamp testdata/golden.txt").success
    unchanged = executor.execute_in_container(cid, "stat -c '%s %Y' testdata/golden.txt")
    assert unchanged.output.split() == ["5", "1577836800"], unchanged.output

    again = executor.run_tests(cid, "go")
    assert _outcomes(again) == {golden: "failed"}, again.output
    assert 'golden = "fail\\n"' in (again.cases[0].message or "")
    assert _outcomes(executor.rerun_tests(cid, [golden], "go")) == {golden: "failed"}


# ---- the warm command ---------------------------------------------------------------------------------

# The packages go test and go build compile, from their -x traces (`compile ... -p <package> ...`).
COMPILED = (
    ". /opt/sigma/go-env.sh && mkdir -p /tmp/trace && "
    "{ go test -count=1 -json -coverprofile=/tmp/trace/cover.out -x ./... 2>&1 >/dev/null; "
    "go build -o /dev/null -x ./... 2>&1; } "
    "| grep -Eo '/compile .* -p [^ ]+' | sed 's/.* -p //' | sort -u"
)


def test_after_the_warm_command_only_what_a_proposal_changed_compiles_again(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {**MODULE, "calc.go": CALC, "calc_test.go": CALC_TEST, "twice.go": TWICE, "quad.go": QUAD}
    cid = sandbox(_write(tmp_path, {**files, "quad_test.go": QUAD_TEST, "sub/sub_test.go": SUB_TEST}), "go")
    _warm(executor, cid)
    assert executor.execute_in_container(cid, "ls /tmp").output.split() == ["go", "home", "sigma-reports"]
    # It linked each package's test binary once (go-link-cache.sh keeps them under their link action ID).
    linked = executor.execute_in_container(cid, "ls /tmp/go/links").output.split()
    calc_slot, sub_slot = "example.com_calc.test@", "example.com_calc_sub.test@"
    assert sorted(name.split("@")[0] + "@" for name in linked) == [calc_slot, sub_slot], linked

    # Given the warm command: the test step (coverage and test main included) and the build compile nothing.
    unchanged = executor.execute_in_container(cid, COMPILED)
    assert unchanged.success and unchanged.output.split() == [], unchanged.output

    # When a proposal edits calc.go, only its package compiles again (sub and the standard library do not).
    assert executor.apply_changes(cid, [{"filepath": "calc.go", "content": CALC_FLIPPED}]).success
    edited = executor.execute_in_container(cid, COMPILED).output.split()
    assert edited == ["example.com/calc", "main"], edited  # the package (plain, covered, with its tests), test main
    result = executor.run_tests(cid, "go")
    assert _outcomes(result) == {
        "example.com/calc::TestAdd": "failed",
        "example.com/calc::TestMul": "passed",
        "example.com/calc::TestQuad": "failed",
        "example.com/calc/sub::TestA": "passed",
        "example.com/calc/sub::TestB": "passed",
    }, result.output
    # sub's test binary was copied from the link cache; calc's, linked anew, replaced its old one there.
    relinked = executor.execute_in_container(cid, "ls /tmp/go/links").output.split()
    assert [n for n in relinked if n.startswith(sub_slot)] == [n for n in linked if n.startswith(sub_slot)]
    assert [n for n in relinked if n.startswith(calc_slot)] != [n for n in linked if n.startswith(calc_slot)]
    assert len(relinked) == 2, relinked


MAIN_OK = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("tool") }\n'
# Compiles, but the linker finds no such symbol.
MAIN_UNLINKABLE = """package main

import _ "unsafe"

//go:linkname missing example.com/app/nowhere.Missing
func missing()

func main() { missing() }
"""


def test_a_main_package_that_no_longer_links_fails_the_build_though_it_linked_before(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(_write(tmp_path, {"go.mod": GO_MOD, "cmd/tool/main.go": MAIN_OK}), "go")
    _warm(executor, cid)
    assert executor.run_build(cid, "go").success  # linked by the warm command: copied from the link cache

    assert executor.apply_changes(cid, [{"filepath": "cmd/tool/main.go", "content": MAIN_UNLINKABLE}]).success
    broken = executor.run_build(cid, "go")
    assert not broken.success and "nowhere.Missing" in broken.output, broken.output

    assert executor.apply_changes(cid, [{"filepath": "cmd/tool/main.go", "content": MAIN_OK}]).success
    assert executor.run_build(cid, "go").success
    slots = executor.execute_in_container(cid, "ls /tmp/go/links").output.split()
    assert [name.split("@")[0] for name in slots] == ["example.com_app_cmd_tool"], slots


# A printf verb that does not fit its argument, in a package without tests: go test's vet subset never sees it.
MISPRINT = 'package report\n\nimport "fmt"\n\nfunc Show(n string) { fmt.Printf("%d items\\n", n) }\n'


def test_the_build_is_go_build_and_full_go_vet_is_one_argument_away(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(_write(tmp_path, {"go.mod": GO_MOD, "report/report.go": MISPRINT}), "go")
    # The default build checks what `go build ./...` checks: the package compiles.
    built = executor.run_build(cid, "go")
    assert built.success and "go build passed" in built.output, built.output
    # With `vet`, every analyzer on every package must pass too, and vet's finding is what the build shows.
    vetted = executor.run_build(cid, "go", "sh /opt/sigma/go-build.sh vet")
    assert not vetted.success and "Printf format %d has arg n of wrong type string" in vetted.output, vetted.output
