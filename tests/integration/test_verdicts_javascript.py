"""JavaScript verdicts an agent can trust: cases re-run by id, flaky told from broken, no stale test or build.

Ids are `relpath::full name` (the test file relative to /workspace, Jest's fullName). A re-run goes
through the image's runner, which hands them as argv, never as shell text, to jest (`--runTestsByPath`,
an anchored, escaped `-t`, narrowed to each file's own names by sigma-exec's jest-circus runner),
vitest (file filters and `-t`, one run per set of names) or mocha (`--grep`: names only, so a full
title selected in one file also runs where another file has it).

The caches, and why none can serve stale results: Jest keeps its haste map, transform cache and
ts-jest's state in the sandbox's own /tmp (the runner passes --cacheDirectory, whatever the project
configures). Jest's transform cache and babel-jest's key are the file's content; the haste map trusts
mtimes but only maps files (it is re-crawled every run, so deleted tests vanish); ts-jest adds the
mtimes of a test file's imports to its key, which every applied change moves (microsecond stamps).
@babel/register's mtime cache is switched off, Vitest's results cache too (--no-cache), and tsc's
incremental state goes to /tmp/sigma-cache/tsc whatever the tsconfig says (tsc keys each file by a hash
of its content and checks again what a changed file's importers see). The build trusts nothing the test
run left: it parses every file itself.
Jest's coverageDirectory is a fixed link (it is part of the config that keys every transformed file),
re-pointed at each run's fresh reports directory. The framework's warm_command (a prepared sandbox's
run on the project as it is, before any proposal) fills these caches: the warm-sandbox scenarios
below prove that a warm cache never makes a changed, restored or deleted file look fine.
These scenarios prove it on the real engine.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

from sigma_exec import DockerExecutor
from sigma_exec.languages import resolve_language
from tests.integration.verdict_helpers import outcomes as _outcomes
from tests.integration.verdict_helpers import write_files as _write

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# A name that would run commands, end a quote or widen a pattern if it ever reached a shell or a regexp raw.
HOSTILE_NAME = "costs $(touch /tmp/pwned) `touch /tmp/pwned` 'q' \"qq\" (a|b) [x]* \\ .+ ok"
FAIL_ONCE = "const first = !fs.existsSync('{marker}');\n    fs.writeFileSync('{marker}', '');"

JEST_SUITE = f"""const fs = require('fs');

describe('calc', () => {{
  describe('adding', () => {{
    test('adds', () => {{ expect(1 + 1).toBe(2); }});
    test('adds wrong', () => {{ expect(1 + 1).toBe(3); }});
    test.each([[1, 2], [2, 4]])('doubles %i', (a, b) => {{ expect(a * 2).toBe(b); }});
  }});
  test({json.dumps(HOSTILE_NAME)}, () => {{ expect(true).toBe(true); }});
  test('is flaky', () => {{
    {FAIL_ONCE.format(marker="/tmp/sigma-jest-flaky")}
    expect(first).toBe(false);
  }});
}});
"""
# The same full name as a case of JEST_SUITE, in another file: told apart by the id's path.
JEST_OTHER = """describe('calc', () => {
  describe('adding', () => {
    test('adds', () => { expect(2 + 2).toBe(4); });
  });
});
"""

VITEST_SUITE = """import { describe, test, expect } from 'vitest';
import fs from 'node:fs';

describe('calc', () => {
  describe('adding', () => {
    test('adds', () => { expect(1 + 1).toBe(2); });
    test('adds wrong', () => { expect(1 + 1).toBe(3); });
    test.each([[1, 2], [2, 4]])('doubles %i', (a, b) => { expect(a * 2).toBe(b); });
  });
  test('is flaky', () => {
    FAIL_ONCE
    expect(first).toBe(false);
  });
});
""".replace("FAIL_ONCE", FAIL_ONCE.format(marker="/tmp/sigma-vitest-flaky"))
VITEST_OTHER = "import { describe, test, expect } from 'vitest';\n\n" + JEST_OTHER

MOCHA_SUITE = """const assert = require('assert');
const fs = require('fs');

describe('calc', () => {
  describe('adding', () => {
    it('adds', () => { assert.strictEqual(1 + 1, 2); });
    it('adds wrong', () => { assert.strictEqual(1 + 1, 3); });
    [[1, 2], [2, 4]].forEach(([a, b]) => it(`doubles ${a}`, () => { assert.strictEqual(a * 2, b); }));
  });
  it('is flaky', () => {
    FAIL_ONCE
    assert.strictEqual(first, false);
  });
});
""".replace("FAIL_ONCE", FAIL_ONCE.format(marker="/tmp/sigma-mocha-flaky"))

# JavaScript (ES modules, through the runner's Babel transform): add passes, sub fails. Every edit
# below keeps the file's size byte for byte.
CALC = "export const add = (a, b) => a + b;\nexport const sub = (a, b) => a + b;\n"
CALC_FLIPPED = "export const add = (a, b) => a - b;\nexport const sub = (a, b) => a - b;\n"
CALC_BROKEN = "export const add = (a, b) => a - b;\nexport const sub = (a, b) => a - (;\n"
JS_FILES = {
    "src/twice.js": "import { add } from './calc';\n\nexport const twice = (a) => add(a, a);\n",
    "__tests__/calc.test.js": "import { add, sub } from '../src/calc';\n\n"
    "test('adds', () => { expect(add(2, 3)).toBe(5); });\ntest('subtracts', () => { expect(sub(5, 3)).toBe(2); });\n",
    "__tests__/twice.test.js": "import { twice } from '../src/twice';\n\n"
    "test('doubles', () => { expect(twice(2)).toBe(4); });\n",
}

# TypeScript through ts-jest (type-checked tests) with an incremental tsconfig. `label`'s return type
# flips with the same size: only the test file that uses it stops type-checking.
CALC_TS = (
    "export function add(a: number, b: number): number { return a + b; }\n"
    "export function sub(a: number, b: number): number { return a + b; }\n"
    "export function label(): number { return 100; }\n"
)
CALC_TS_FLIPPED = CALC_TS.replace("a + b", "a - b")
CALC_TS_RETYPED = CALC_TS.replace("number { return 100; }", "string { return '1'; }")
TS_FILES = {
    "package.json": json.dumps(
        {"scripts": {"test": "jest"}, "jest": {"preset": "ts-jest", "testEnvironment": "node"}}, indent=2
    ),
    "tsconfig.json": json.dumps(
        {
            "compilerOptions": {
                "target": "ES2020",
                "module": "commonjs",
                "strict": True,
                "esModuleInterop": True,
                "skipLibCheck": True,
                "incremental": True,
                "types": ["jest", "node"],
            },
            "include": ["src", "tests"],
        },
        indent=2,
    ),
    "src/twice.ts": "import { add } from './calc';\n\nexport const twice = (a: number): number => add(a, a);\n",
    "tests/calc.test.ts": "import { add, sub, label } from '../src/calc';\n\n"
    "test('adds', () => { expect(add(2, 3)).toBe(5); });\n"
    "test('subtracts', () => { expect(sub(5, 3)).toBe(2); });\n"
    "test('labels', () => { const n: number = label(); expect(n).toBe(100); });\n",
    "tests/twice.test.ts": "import { twice } from '../src/twice';\n\n"
    "test('doubles', () => { expect(twice(2)).toBe(4); });\n",
}

# What a run or a build could leave in the workspace: none of it may appear there.
LEFTOVERS = "find . \\( -name node_modules -o -name '.cache' -o -name '*.tsbuildinfo' -o -name coverage \\) -print"


def _sample_package(sample: str) -> str:
    """The sample's package.json byte for byte, so its cached dependency layer serves this project too."""
    return (SAMPLES / sample / "package.json").read_text()


def _check_reruns(
    executor: DockerExecutor, cid: str, file: str, flaky_marker: str, others: dict[str, str] | None = None
) -> None:
    """Run with rerun_failed (a flaky case and a broken one), then re-run two cases by id."""
    adds, wrong, flaky = f"{file}::calc adding adds", f"{file}::calc adding adds wrong", f"{file}::calc is flaky"
    doubles_1, doubles_2 = f"{file}::calc adding doubles 1", f"{file}::calc adding doubles 2"
    result = executor.run_tests(cid, "javascript", rerun_failed=True)

    expected = {adds: "passed", wrong: "failed", doubles_1: "passed", doubles_2: "passed", flaky: "failed"}
    assert _outcomes(result) == {**expected, **(others or {})}, result.output
    assert (result.success, result.tests_failed) == (False, 2)  # the first run's verdict stands
    assert result.flaky == [flaky]
    assert _outcomes(result.rerun_cases) == {wrong: "failed", flaky: "passed"}, result.rerun_cases

    # `calc adding adds` is matched whole: "adds wrong" and the other file's "calc adding adds" stay out.
    two = executor.rerun_tests(cid, [adds, doubles_2], "javascript")
    assert _outcomes(two) == {adds: "passed", doubles_2: "passed"}, two.output
    assert two.success and (two.tests_passed, two.tests_failed, two.tests_skipped) == (2, 0, 0)
    assert executor.execute_in_container(cid, f"test -e {flaky_marker}").success


# ---- re-run selection ---------------------------------------------------------------------------------


def test_jest_reruns_exactly_the_cases_named_and_tells_a_flaky_one_from_a_broken_one(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {"package.json": '{"scripts": {"test": "jest"}}', "__tests__/other.test.js": JEST_OTHER}
    cid = sandbox(_write(tmp_path, {**files, "__tests__/calc.test.js": JEST_SUITE}), "javascript")
    hostile = f"__tests__/calc.test.js::calc {HOSTILE_NAME}"
    other = "__tests__/other.test.js::calc adding adds"
    _check_reruns(
        executor, cid, "__tests__/calc.test.js", "/tmp/sigma-jest-flaky", {hostile: "passed", other: "passed"}
    )

    # A name full of shell and regexp syntax is selected as itself, and nothing it spells runs.
    picked = executor.rerun_tests(cid, [hostile, other], "javascript")
    assert _outcomes(picked) == {hostile: "passed", other: "passed"}, picked.output

    # Ids are data, never patterns or options: these select nothing, and no file is touched.
    nothing = executor.rerun_tests(cid, ["$(touch /tmp/pwned)", "--testNamePattern=.*", "calc.*"], "javascript")
    assert nothing.cases == [] and not nothing.tests_passed, nothing.output
    assert nothing.success is False
    assert executor.execute_in_container(cid, "ls /tmp/pwned 2>/dev/null | wc -l").output.strip() == "0"


def test_vitest_reruns_exactly_the_cases_named_and_sees_a_same_size_edit(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {"package.json": _sample_package("js_vitest"), "other.test.js": VITEST_OTHER}
    cid = sandbox(_write(tmp_path, {**files, "calc.test.js": VITEST_SUITE}), "javascript")
    other = "other.test.js::calc adding adds"
    _check_reruns(executor, cid, "calc.test.js", "/tmp/sigma-vitest-flaky", {other: "passed"})

    # Two files, each with its own name: "calc adding adds" of calc.test.js does not run.
    doubles = "calc.test.js::calc adding doubles 1"
    across = executor.rerun_tests(cid, [doubles, other], "javascript")
    assert _outcomes(across) == {doubles: "passed", other: "passed"}, across.output

    # A same-size edit of the test file swaps the two expectations; vitest runs what is there now.
    swapped = "toBe(3); });\n    test('adds wrong', () => { expect(1 + 1).toBe(2"
    flipped = VITEST_SUITE.replace("toBe(2); });\n    test('adds wrong', () => { expect(1 + 1).toBe(3", swapped)
    assert len(flipped) == len(VITEST_SUITE) and swapped in flipped
    assert executor.apply_changes(cid, [{"filepath": "calc.test.js", "content": flipped}]).success
    ids = ["calc.test.js::calc adding adds", "calc.test.js::calc adding adds wrong"]
    again = executor.rerun_tests(cid, ids, "javascript")
    assert _outcomes(again) == {ids[0]: "failed", ids[1]: "passed"}, again.output
    assert executor.execute_in_container(cid, LEFTOVERS).output.strip() == ""  # no node_modules/.vite


def test_mocha_reruns_exactly_the_cases_named_and_tells_a_flaky_one_from_a_broken_one(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {"package.json": _sample_package("js_mocha"), "test/calc.test.js": MOCHA_SUITE}
    cid = sandbox(_write(tmp_path, files), "javascript")
    _check_reruns(executor, cid, "test/calc.test.js", "/tmp/sigma-mocha-flaky")


# ---- no stale results ---------------------------------------------------------------------------------


def test_jest_runs_and_builds_see_same_size_edits_broken_code_and_deleted_files(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # No package.json: the runner calls jest itself, with its Babel transform for the ES modules.
    cid = sandbox(_write(tmp_path, {"src/calc.js": CALC, **JS_FILES}), "javascript")
    adds, subtracts, doubles = (
        "__tests__/calc.test.js::adds",
        "__tests__/calc.test.js::subtracts",
        "__tests__/twice.test.js::doubles",
    )
    first = executor.run_tests(cid, "javascript")
    assert _outcomes(first) == {adds: "passed", subtracts: "failed", doubles: "passed"}, first.output
    assert executor.run_build(cid, "javascript").success

    # A same-size edit makes the passing test fail and the failing one pass, in the run and in a re-run.
    assert len(CALC_FLIPPED) == len(CALC)
    assert executor.apply_changes(cid, [{"filepath": "src/calc.js", "content": CALC_FLIPPED}]).success
    flipped = executor.run_tests(cid, "javascript")
    assert _outcomes(flipped) == {adds: "failed", subtracts: "passed", doubles: "failed"}, flipped.output
    again = executor.rerun_tests(cid, [adds, subtracts], "javascript")
    assert _outcomes(again) == {adds: "failed", subtracts: "passed"}, again.output
    assert executor.run_build(cid, "javascript").success

    # Back to the first content with the flipped file's size and mtime: Jest's transform cache goes by content.
    restore = f"cp -p src/calc.js /tmp/stamp && printf '%s' '{CALC}' > src/calc.js && touch -r /tmp/stamp src/calc.js"
    assert executor.execute_in_container(cid, restore).success
    restored = executor.run_tests(cid, "javascript")
    assert _outcomes(restored) == {adds: "passed", subtracts: "failed", doubles: "passed"}, restored.output

    # A same-size edit that no longer parses fails the next build, and the next test run.
    assert len(CALC_BROKEN) == len(CALC)
    assert executor.apply_changes(cid, [{"filepath": "src/calc.js", "content": CALC_BROKEN}]).success
    broken = executor.run_build(cid, "javascript")
    assert not broken.success and "src/calc.js" in broken.output, broken.output
    errored = executor.run_tests(cid, "javascript")
    assert errored.success is False and errored.tests_errored == 2, errored.output
    assert "src/calc.js" in (errored.error or ""), errored.error

    # A deleted test file takes its test with it; a deleted source file is gone for the tests that need it.
    gone = [{"filepath": "src/calc.js", "content": CALC}, {"filepath": "__tests__/twice.test.js", "delete": True}]
    assert executor.apply_changes(cid, gone).success
    assert _outcomes(executor.run_tests(cid, "javascript")) == {adds: "passed", subtracts: "failed"}
    build = executor.run_build(cid, "javascript")
    assert build.success and "node --check on 3 JavaScript files" in build.output, build.output
    assert executor.apply_changes(cid, [{"filepath": "src/calc.js", "delete": True}]).success
    missing = executor.run_tests(cid, "javascript")
    assert missing.success is False and missing.cases == [], missing.output
    assert "Cannot find module '../src/calc'" in (missing.error or ""), missing.error
    assert "node --check on 2 JavaScript files" in executor.run_build(cid, "javascript").output
    assert executor.execute_in_container(cid, LEFTOVERS).output.strip() == ""


def test_ts_jest_runs_and_tsc_builds_see_same_size_edits_of_an_import_and_deleted_files(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    cid = sandbox(_write(tmp_path, {"src/calc.ts": CALC_TS, **TS_FILES}), "typescript")
    adds, subtracts, labels, doubles = (
        "tests/calc.test.ts::adds",
        "tests/calc.test.ts::subtracts",
        "tests/calc.test.ts::labels",
        "tests/twice.test.ts::doubles",
    )
    first = executor.run_tests(cid, "ts")
    assert _outcomes(first) == {adds: "passed", subtracts: "failed", labels: "passed", doubles: "passed"}, first.output
    assert executor.run_build(cid, "ts").success

    # Same-size edits of the imported module: its behaviour flips, then a type only its importer checks.
    assert len(CALC_TS_FLIPPED) == len(CALC_TS) == len(CALC_TS_RETYPED)
    assert executor.apply_changes(cid, [{"filepath": "src/calc.ts", "content": CALC_TS_FLIPPED}]).success
    flipped = executor.run_tests(cid, "ts")
    assert _outcomes(flipped) == {adds: "failed", subtracts: "passed", labels: "passed", doubles: "failed"}
    assert executor.run_build(cid, "ts").success
    assert executor.apply_changes(cid, [{"filepath": "src/calc.ts", "content": CALC_TS_RETYPED}]).success
    retyped = executor.run_tests(cid, "ts")  # tests/calc.test.ts is unchanged, ts-jest checks it again
    assert retyped.tests_errored == 1 and "TS2322" in (retyped.error or ""), retyped.output
    assert _outcomes(retyped) == {doubles: "passed"}
    build = executor.run_build(cid, "ts")
    assert not build.success and "tests/calc.test.ts" in build.output and "TS2322" in build.output, build.output
    assert executor.apply_changes(cid, [{"filepath": "src/calc.ts", "content": CALC_TS}]).success
    assert executor.run_build(cid, "ts").success

    # A deleted test file takes its test with it; a deleted module fails the build of its importers.
    assert executor.apply_changes(cid, [{"filepath": "tests/twice.test.ts", "delete": True}]).success
    rest = executor.run_tests(cid, "ts")
    assert _outcomes(rest) == {adds: "passed", subtracts: "failed", labels: "passed"}, rest.output
    assert executor.apply_changes(cid, [{"filepath": "src/calc.ts", "delete": True}]).success
    build = executor.run_build(cid, "ts")
    assert not build.success and "TS2307" in build.output and "src/twice.ts" in build.output, build.output
    # tsc's incremental state (the tsconfig asks for it) never lands in the workspace; nor does Jest's cache.
    assert executor.execute_in_container(cid, LEFTOVERS).output.strip() == ""


# ---- a warm sandbox (the framework's warm_command ran before the proposal) ------------------------------


def _warm(executor: DockerExecutor, cid: str) -> None:
    """What a prepared sandbox has been through before the proposal arrives; the outcome is ignored."""
    [framework] = resolve_language("javascript").frameworks
    assert framework.warm_command.strip()
    executor.execute_in_container(cid, framework.warm_command, timeout=600)
    warmed = executor.execute_in_container(cid, "find /tmp/sigma-cache -type f | wc -l")
    assert int(warmed.output.strip()) > 0, warmed.output  # the caches are in the sandbox's own /tmp


def test_a_warm_sandbox_tests_and_builds_what_the_proposal_changed_restored_or_deleted(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {"package.json": '{"scripts": {"test": "jest"}}', "src/calc.js": CALC, **JS_FILES}
    cid = sandbox(_write(tmp_path, files), "javascript")
    _warm(executor, cid)
    adds, subtracts, doubles = (
        "__tests__/calc.test.js::adds",
        "__tests__/calc.test.js::subtracts",
        "__tests__/twice.test.js::doubles",
    )
    assert executor.execute_in_container(cid, LEFTOVERS).output.strip() == ""  # the warm run left nothing

    # A same-size edit after the warm run: the tests see the new code, coverage is measured on it.
    assert executor.apply_changes(cid, [{"filepath": "src/calc.js", "content": CALC_FLIPPED}]).success
    flipped = executor.run_tests(cid, "javascript")
    assert _outcomes(flipped) == {adds: "failed", subtracts: "passed", doubles: "failed"}, flipped.output
    assert flipped.coverage_percent is not None and flipped.report_disputed is None

    # The warm run's content back, with the flipped file's mtime: the warm cache entry is the right one.
    restore = f"cp -p src/calc.js /tmp/stamp && printf '%s' '{CALC}' > src/calc.js && touch -r /tmp/stamp src/calc.js"
    assert executor.execute_in_container(cid, restore).success
    restored = executor.run_tests(cid, "javascript")
    assert _outcomes(restored) == {adds: "passed", subtracts: "failed", doubles: "passed"}, restored.output

    # Broken code fails the build and the tests; a deleted module is missing for both.
    assert executor.apply_changes(cid, [{"filepath": "src/calc.js", "content": CALC_BROKEN}]).success
    broken = executor.run_build(cid, "javascript")
    assert not broken.success and "src/calc.js" in broken.output, broken.output
    assert executor.run_tests(cid, "javascript").tests_errored == 2
    assert executor.apply_changes(cid, [{"filepath": "src/calc.js", "delete": True}]).success
    missing = executor.run_tests(cid, "javascript")
    assert missing.success is False and missing.cases == [], missing.output
    assert "Cannot find module" in (missing.error or "") and "calc'" in (missing.error or ""), missing.error
    build = executor.run_build(cid, "javascript")
    assert build.success and "node --check on 3 JavaScript files" in build.output, build.output
    assert executor.execute_in_container(cid, LEFTOVERS).output.strip() == ""


def test_a_warm_sandbox_type_checks_the_change_and_still_reports_errors_it_saw_while_warming(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # The project is already broken when the sandbox warms: tsc's kept state must not forget it.
    broken = {"src/bad.ts": "export const n: number = 'not a number';\n"}
    cid = sandbox(_write(tmp_path, {"src/calc.ts": CALC_TS, **TS_FILES, **broken}), "typescript")
    _warm(executor, cid)
    assert executor.execute_in_container(cid, "test -s /tmp/sigma-cache/tsc/project.tsbuildinfo").success

    unrelated = executor.apply_changes(cid, [{"filepath": "src/twice.ts", "content": TS_FILES["src/twice.ts"]}])
    assert unrelated.success
    still = executor.run_build(cid, "ts")
    assert not still.success and "src/bad.ts" in still.output and "TS2322" in still.output, still.output

    # Fixed, then a same-size retyping only an importer sees, then a deleted module.
    assert executor.apply_changes(cid, [{"filepath": "src/bad.ts", "delete": True}]).success
    assert executor.run_build(cid, "ts").success
    assert executor.apply_changes(cid, [{"filepath": "src/calc.ts", "content": CALC_TS_RETYPED}]).success
    retyped = executor.run_build(cid, "ts")
    assert not retyped.success and "tests/calc.test.ts" in retyped.output and "TS2322" in retyped.output
    tests = executor.run_tests(cid, "ts")
    assert tests.tests_errored == 1 and "TS2322" in (tests.error or ""), tests.output
    assert executor.apply_changes(cid, [{"filepath": "src/calc.ts", "delete": True}]).success
    gone = executor.run_build(cid, "ts")
    assert not gone.success and "TS2307" in gone.output and "src/twice.ts" in gone.output, gone.output
    assert executor.execute_in_container(cid, LEFTOVERS).output.strip() == ""


# ---- the build's syntax check and the package scripts, without npm's start-up -----------------------------


def test_the_one_process_syntax_check_judges_every_file_as_node_check_does(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {
        "package.json": '{"scripts": {"test": "jest"}}',
        "cjs.js": "#!/usr/bin/env node\nconst a = 1; with (Math) { a + max(1, 2); }\n",  # sloppy CommonJS
        "esm.js": "import fs from 'fs';\nexport const x = fs;\n",  # ES-module syntax in a CommonJS package
        "lib/m.mjs": "export default 1;\n",
        "lib/c.cjs": "module.exports = 1;\n",
        "typed/package.json": '{"type": "module"}',
        "typed/strict.js": "export const y = 010;\n",  # a module is strict: legacy octal is an error
        ".hidden/skip.js": "this is not javascript",
        "coverage/skip.js": "nor this",
    }
    cid = sandbox(_write(tmp_path, files), "javascript")
    build = executor.run_build(cid, "javascript")
    assert not build.success, build.output
    assert "typed/strict.js" in build.output and "Octal" in build.output, build.output
    assert "node --check on 5 JavaScript files" in build.output
    assert executor.apply_changes(cid, [{"filepath": "typed/strict.js", "content": "export const y = 0o10;\n"}]).success
    fixed = executor.run_build(cid, "javascript")
    assert fixed.success and "node --check on 5 JavaScript files" in fixed.output, fixed.output


def test_package_scripts_run_as_npm_would_and_npm_runs_them_when_it_would_do_more(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # Writes /tmp/<the script's name> holding the package's name, both as npm hands them to a script.
    write = "require('fs').writeFileSync('/tmp/' + process.env.npm_lifecycle_event, process.env.npm_package_name)"
    record = f'node -e "{write}"'
    scripts = {"test": "jest --testMatch '**/checks/*.js'", "build": record}
    files = {
        "package.json": json.dumps({"name": "scripted", "scripts": scripts}),
        "checks/one.js": "test('one', () => { expect(process.env.npm_lifecycle_event).toBe('test'); });\n",
    }
    cid = sandbox(_write(tmp_path, files), "javascript")
    result = executor.run_tests(cid, "javascript")
    assert _outcomes(result) == {"checks/one.js::one": "passed"}, result.output
    build = executor.run_build(cid, "javascript")
    assert build.success and "npm run build" in build.output, build.output
    assert executor.execute_in_container(cid, "cat /tmp/build").output == "scripted"

    # A pretest script: npm itself runs the test script, and the pretest with it.
    with_pre = {"name": "scripted", "scripts": {**scripts, "pretest": record.replace("/tmp/", "/tmp/pre-")}}
    assert executor.apply_changes(cid, [{"filepath": "package.json", "content": json.dumps(with_pre)}]).success
    again = executor.run_tests(cid, "javascript")
    assert _outcomes(again) == {"checks/one.js::one": "passed"}, again.output
    assert executor.execute_in_container(cid, "cat /tmp/pre-pretest").output == "scripted"


# ---- the runner's own costs: Jest in the runner's process, the build's check done by the test run ----------


# Records, from inside a test (one file: Jest runs it in its own process), that process's command line as
# it was started, and the npm variable a package script gets.
WHO_RUNS = """const fs = require('fs');
const { one } = require('../src/one');

test('records who runs it', () => {
  expect(one()).toBe(1);
  fs.writeFileSync('/tmp/jest-process', fs.readFileSync('/proc/self/cmdline', 'utf8').split('\\0').join(' '));
  fs.writeFileSync('/tmp/jest-event', String(process.env.npm_lifecycle_event));
});
"""


def test_a_plain_jest_script_runs_in_the_runners_own_process_with_npms_environment(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    files = {
        "package.json": '{"scripts": {"test": "jest --ci"}}',
        "src/one.js": "exports.one = () => 1;\n",
        "__tests__/who.test.js": WHO_RUNS,
    }
    cid = sandbox(_write(tmp_path, files), "javascript")
    result = executor.run_tests(cid, "javascript")
    assert _outcomes(result) == {"__tests__/who.test.js::records who runs it": "passed"}, result.output
    assert result.coverage_percent == 100.0, result.output
    # Jest ran in the process the sandbox started for the runner: no second Node start-up, nor a shell.
    started = executor.execute_in_container(cid, "cat /tmp/jest-process").output
    assert started.startswith("node /usr/share/sigma-exec/run-jest.js "), started
    assert executor.execute_in_container(cid, "cat /tmp/jest-event").output == "test"

    # A re-run still gets a Jest process of its own (the runner trims the report after it).
    again = executor.rerun_tests(cid, ["__tests__/who.test.js::records who runs it"], "javascript")
    assert _outcomes(again) == {"__tests__/who.test.js::records who runs it": "passed"}, again.output
    started = executor.execute_in_container(cid, "cat /tmp/jest-process").output
    assert "run-jest.js" not in started and "jest" in started, started


def test_sloppy_commonjs_stays_sloppy_under_the_runners_transform_as_under_plain_jest(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # Strict mode (which an ES-module transform adds) would throw on the undeclared name and bind no `this`.
    sloppy_test = "test('sloppy', () => { expect(f()).toBe('sloppy'); });\n"
    sloppy = "function f() { undeclared = 5; return this === undefined ? 'strict' : 'sloppy'; }\nmodule.exports = f;\n"
    files = {
        "package.json": '{"scripts": {"test": "jest"}}',
        "src/sloppy.js": sloppy,
        "__tests__/cjs.test.js": "const f = require('../src/sloppy');\n" + sloppy_test,
        "__tests__/esm.test.js": "import f from '../src/sloppy';\n" + sloppy_test,
    }
    cid = sandbox(_write(tmp_path, files), "javascript")
    result = executor.run_tests(cid, "javascript")
    expected = {"__tests__/cjs.test.js::sloppy": "passed", "__tests__/esm.test.js::sloppy": "passed"}
    assert _outcomes(result) == expected, result.output


def test_the_build_after_the_tests_parses_every_file_whatever_the_tests_left(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # The tests pass and leave files where a cache of the build could be; a file no test loads does not parse.
    leave = "require('fs').mkdirSync('/tmp/sigma-cache/js-check', { recursive: true });\n" + "".join(
        f"require('fs').writeFileSync('{where}', 'sigma-exec: node --check on 3 JavaScript files');\n"
        for where in ("/tmp/sigma-cache/js-check/mark", "/tmp/sigma-cache/build-ok")
    )
    files = {
        "package.json": '{"scripts": {"test": "jest"}}',
        "src/calc.js": "exports.add = (a, b) => a + b;\n",
        "src/unused.js": "exports.never = () => 'no test loads this file' (;\n",
        "__tests__/calc.test.js": "const { add } = require('../src/calc');\n"
        + leave
        + "test('adds', () => { expect(add(1, 2)).toBe(3); });\n",
    }
    cid = sandbox(_write(tmp_path, files), "javascript")

    result, build = executor.run_tests_then_build(cid, "javascript")

    assert result.success, result.output
    assert build is not None and not build.success and "src/unused.js" in build.output, build
    assert executor.execute_in_container(cid, LEFTOVERS).output.strip() == ""


# Loads the runner's transform as Jest does and transforms one file for coverage: which Babel it ran, and how.
TRANSFORM_PROBE = """
const transform = require('/usr/share/sigma-exec/jest-transform.js');
const options = { config: { rootDir: '/workspace', cwd: '/workspace' }, configString: '{}', instrument: true,
  cacheFS: new Map(), transformerConfig: {} };
const file = '/workspace/src/sloppy.js';
const out = transform.process(require('fs').readFileSync(file, 'utf8'), file, options);
const cores = Object.keys(require.cache).filter((f) => f.endsWith('/@babel/core/lib/index.js'));
const strict = out.code.includes('use strict');
console.log(JSON.stringify({ cores, instrumented: out.code.includes('cov_'), strict }));
"""


def test_the_transform_runs_the_babel_of_the_projects_own_jest_and_no_second_copy(
    tmp_path: Path, executor: DockerExecutor, sandbox: Callable[..., str]
) -> None:
    # The sample's package.json: its dependency layer (/node_modules) has npm's jest, babel-jest and Babel.
    files = {"package.json": _sample_package("js_calc"), "src/sloppy.js": "module.exports = () => 1;\n"}
    cid = sandbox(_write(tmp_path, files), "javascript")
    probe = executor.execute_in_container(cid, f"node -e {shlex.quote(TRANSFORM_PROBE)}")
    assert probe.success, probe.output
    seen = json.loads(probe.output.strip().splitlines()[-1])
    # One Babel (the one the project's Jest loads itself), instrumenting; a script gets no "use strict".
    assert seen == {"cores": ["/node_modules/@babel/core/lib/index.js"], "instrumented": True, "strict": False}, seen
