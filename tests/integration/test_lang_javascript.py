"""JavaScript and TypeScript through the DockerExecutor API, on a real engine with Debian's offline toolchain."""

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


def test_a_javascript_project_without_node_modules_is_tested_fixed_and_built(
    executor: DockerExecutor, project_id: str
) -> None:
    ok, cid, error = executor.create_project_container(project_id, str(SAMPLES / "js_calc"), "js")
    assert ok and cid, error

    before = executor.run_tests(cid, "javascript")
    assert _counts(before) == (3, 1, 2, 0), before.output  # test.skip and test.todo are both skipped
    assert before.success is False and before.framework == "jest"
    assert before.report_source == "jest:jest.json"
    assert before.coverage_percent is not None and 0 <= before.coverage_percent <= 100
    assert any(case.name == "calc refuses to divide by zero" and case.outcome == "failed" for case in before.cases)

    assert executor.apply_changes(cid, _changes("js_calc")).success
    after = executor.run_tests(cid, "js")
    assert _counts(after) == (5, 0, 2, 0), after.output
    assert after.success is True and after.error is None
    assert executor.execute_in_container(cid, "ls -A").output.split() == ["__tests__", "package.json", "src"]

    build = executor.run_build(cid, "js")
    assert build.success, build.output
    assert "node --check on 3 JavaScript files" in build.output

    assert executor.apply_changes(cid, [{"filepath": "src/broken.js", "content": "function broken( {\n"}]).success
    broken = executor.run_build(cid, "javascript")
    assert broken.success is False and "broken.js" in broken.output

    assert executor.cleanup_project(project_id).success
    assert labelled_containers(executor, project_id) == []


def test_a_typescript_project_is_tested_type_checked_and_reports_compile_errors(
    executor: DockerExecutor, project_id: str
) -> None:
    ok, cid, error = executor.create_project_container(project_id, str(SAMPLES / "ts_calc"), "ts")
    assert ok and cid, error

    before = executor.run_tests(cid, "typescript")
    assert _counts(before) == (3, 1, 1, 0), before.output
    assert before.success is False and before.framework == "jest"
    assert before.coverage_percent is not None and 0 <= before.coverage_percent <= 100

    assert executor.apply_changes(cid, _changes("ts_calc")).success
    after = executor.run_tests(cid, "ts")
    assert _counts(after) == (5, 0, 1, 0), after.output
    assert after.success is True

    build = executor.run_build(cid, "ts")
    assert build.success, build.output
    assert "tsc --noEmit -p ." in build.output

    bad_type = {"filepath": "src/bad.ts", "content": "export const n: number = 'not a number';\n"}
    assert executor.apply_changes(cid, [bad_type]).success
    broken = executor.run_build(cid, "ts")
    assert broken.success is False and "TS2322" in broken.output

    syntax_error = {"filepath": "tests/broken.test.ts", "content": "test('x', () => {\n  const = 1;\n});\n"}
    assert executor.apply_changes(cid, [syntax_error]).success
    errored = executor.run_tests(cid, "ts")
    assert _counts(errored) == (5, 0, 1, 1), errored.output
    assert errored.success is False and errored.error is not None and "broken.test.ts" in errored.error

    assert executor.stop_container(cid) is True
    assert labelled_containers(executor, project_id) == []


def test_a_vitest_project_from_the_npm_registry_reports_its_counts(executor: DockerExecutor, project_id: str) -> None:
    # vitest comes from the registry with package.json; its JSON reporter writes Jest's report format.
    ok, cid, error = executor.create_project_container(project_id, str(SAMPLES / "js_vitest"), "javascript")
    assert ok and cid, error
    result = executor.run_tests(cid, "javascript")
    assert (result.tests_passed, result.tests_failed, result.tests_skipped) == (1, 1, 1), result.output
    assert not result.success
    names = {case.name for case in result.cases}
    assert any("adds" in name for name in names), names


def test_a_mocha_project_from_the_npm_registry_reports_its_counts(executor: DockerExecutor, project_id: str) -> None:
    # mocha comes from the registry with package.json; its JSON reporter's file is turned into Jest's format.
    ok, cid, error = executor.create_project_container(project_id, str(SAMPLES / "js_mocha"), "javascript")
    assert ok and cid, error
    result = executor.run_tests(cid, "javascript")
    assert (result.tests_passed, result.tests_failed, result.tests_skipped) == (1, 1, 1), result.output
    assert not result.success
    assert any("pairs" in case.name for case in result.cases), result.cases
