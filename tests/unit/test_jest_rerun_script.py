"""The image's jest-rerun.js, run by the host's node (skipped without one): it names cases as the parser
does, turns ids into files and one anchored, escaped name pattern, and trims a name-filtered report."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sigma_exec.languages import resolve_language
from sigma_exec.reports import parse_test_report

NODE = shutil.which("node")
DATA = Path(__file__).parents[1] / "data" / "reports"
SCRIPT = "/usr/share/sigma-exec/jest-rerun.js"

needs_node = pytest.mark.skipif(NODE is None, reason="needs node on the host")


def test_the_jest_framework_reruns_through_the_same_runner_with_the_same_reports() -> None:
    [framework] = resolve_language("javascript").frameworks
    reports = "/tmp/sigma-reports/abc"
    assert framework.rerun_command.format(reports=reports, workspace="/workspace") == (
        f"node /usr/share/sigma-exec/run-jest.js {reports}"
    )
    assert framework.rerun_command == framework.test_command  # $SIGMA_RERUN_FILE makes it a re-run


def _run(tmp_path: Path, program: str, *args: str) -> str:
    """Run `program` with `rerun` bound to the image's jest-rerun.js; argv after it are `args`."""
    script = tmp_path / "jest-rerun.js"
    script.write_text(resolve_language("javascript").image.files[SCRIPT])
    prelude = f"const rerun = require({json.dumps(str(script))});\nconst args = process.argv.slice(1);\n"
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", prelude + program, *args], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def _selection(tmp_path: Path, ids: list[str]) -> Path:
    path = tmp_path / "rerun-ids.txt"
    path.write_text("".join(f"{i}\n" for i in ids))
    return path


@needs_node
@pytest.mark.parametrize(
    "report", ["jest-results.json", "jest-nested-run1.json", "vitest-nested.json", "mocha-nested.json"]
)
def test_the_script_names_every_case_of_a_captured_report_as_the_parser_does(tmp_path: Path, report: str) -> None:
    program = """
const doc = JSON.parse(require('fs').readFileSync(args[0], 'utf8'));
const ids = [];
for (const suite of doc.testResults) {
  for (const item of suite.assertionResults) ids.push(rerun.caseId(suite.name, item));
}
console.log(JSON.stringify(ids));
"""
    from_node = json.loads(_run(tmp_path, program, str(DATA / report)))
    assert from_node == [case.id for case in parse_test_report("jest", (DATA / report).read_bytes()).cases]


@needs_node
def test_ids_become_test_files_and_a_pattern_that_matches_each_full_name_whole(tmp_path: Path) -> None:
    names = ["calc adds", "calc (a|b) [x]* $(touch /tmp/p) \\ .+", "Foo::bar baz"]
    ids = [f"__tests__/calc.test.js::{names[0]}", f"src/a b.test.js::{names[1]}", f"x.test.js::{names[2]}"]
    program = """
const selection = rerun.readSelection(args[0]);
const pattern = new RegExp(rerun.namePattern(selection));
const probes = JSON.parse(args[1]);
console.log(JSON.stringify({files: rerun.files(selection), hits: probes.filter((p) => pattern.test(p))}));
"""
    near_misses = ["calc adds wrong", "the calc adds", "calc a [x]  $(touch /tmp/p) \\ .+", "Foo", "bar baz"]
    out = json.loads(_run(tmp_path, program, str(_selection(tmp_path, ids)), json.dumps(names + near_misses)))
    assert out["files"] == ["/workspace/__tests__/calc.test.js", "/workspace/src/a b.test.js", "/workspace/x.test.js"]
    assert out["hits"] == names


@needs_node
def test_an_id_without_a_file_runs_every_file(tmp_path: Path) -> None:
    program = "console.log(JSON.stringify(rerun.files(rerun.readSelection(args[0]))));"
    assert json.loads(_run(tmp_path, program, str(_selection(tmp_path, ["a.test.js::x", "just a name"])))) is None


@needs_node
def test_a_name_filtered_report_keeps_the_selected_and_every_case_that_ran_with_matching_counts(
    tmp_path: Path,
) -> None:
    # As after `-t`: what the filter left out shows as skipped; a selected skipped case stays skipped.
    report = tmp_path / "jest.json"
    shutil.copy(DATA / "jest-results.json", report)
    ids = ["sum.test.js::sum adds wrong", "sum.test.js::sum skipped one"]
    _run(
        tmp_path,
        "rerun.keepSelected(args[0], rerun.readSelection(args[1]));",
        str(report),
        str(_selection(tmp_path, ids)),
    )
    parsed = parse_test_report("jest", report.read_bytes())
    assert [(c.id, c.outcome) for c in parsed.cases] == [
        ("sum.test.js::sum adds numbers", "passed"),  # ran: kept although not selected
        ("sum.test.js::sum adds wrong", "failed"),
        ("sum.test.js::sum skipped one", "skipped"),
        ("sum.test.js::divides", "passed"),
    ]
    assert (parsed.tests_passed, parsed.tests_failed, parsed.tests_skipped, parsed.tests_errored) == (2, 1, 1, 0)
    assert json.loads(report.read_text())["numTotalTests"] == 4


@needs_node
def test_a_missing_or_unreadable_report_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("{not json")
    selection = str(_selection(tmp_path, ["a::b"]))
    _run(tmp_path, "rerun.keepSelected(args[0], rerun.readSelection(args[1]));", str(tmp_path / "junk.json"), selection)
    _run(tmp_path, "rerun.keepSelected(args[0], rerun.readSelection(args[1]));", str(tmp_path / "none.json"), selection)
    assert (tmp_path / "junk.json").read_text() == "{not json" and not (tmp_path / "none.json").exists()


@needs_node
def test_each_test_file_gets_only_the_names_selected_in_it(tmp_path: Path) -> None:
    # What jest-select-runner.js hands jest-circus for each file (Jest's own -t is one pattern for all).
    ids = ["a.test.js::calc adds", "b.test.js::calc subtracts", "any file"]
    program = """
const selection = rerun.readSelection(args[0]);
const names = (file) => {
  const pattern = new RegExp(rerun.namePattern(selection, `/workspace/${file}`));
  return ['calc adds', 'calc subtracts', 'any file'].filter((name) => pattern.test(name));
};
console.log(JSON.stringify(['a.test.js', 'b.test.js', 'c.test.js'].map(names)));
"""
    out = json.loads(_run(tmp_path, program, str(_selection(tmp_path, ids))))
    assert out == [["calc adds", "any file"], ["calc subtracts", "any file"], ["any file"]]
    only = ["a.test.js::calc adds"]
    program = (
        "console.log(new RegExp(rerun.namePattern(rerun.readSelection(args[0]), '/workspace/b.test.js')).test(''));"
    )
    assert _run(tmp_path, program, str(_selection(tmp_path, only))).strip() == "false"


@needs_node
@pytest.mark.parametrize(
    ("ids", "runs"),
    [
        # Files that select the same names share a run; others get their own.
        (
            ["a.test.js::x", "b.test.js::x", "c.test.js::y", "c.test.js::x"],
            [[["/workspace/a.test.js", "/workspace/b.test.js"], ["x"]], [["/workspace/c.test.js"], ["x", "y"]]],
        ),
        # An id without a file selects its name in every file: one run.
        (["a.test.js::x", "y"], [[None, ["x", "y"]]]),
        # More sets of names than runs allowed: one run of every name in every selected file.
        (
            [f"t{i}.test.js::n{i}" for i in range(9)],
            [[[f"/workspace/t{i}.test.js" for i in range(9)], [f"n{i}" for i in range(9)]]],
        ),
    ],
)
def test_vitest_reruns_split_into_runs_that_select_exactly_the_ids(
    tmp_path: Path, ids: list[str], runs: list[list[object]]
) -> None:
    program = """
const groups = rerun.groups(rerun.readSelection(args[0]));
console.log(JSON.stringify(groups.map((g) => [rerun.files(g), [...new Set(g.cases.map((c) => c.name))].sort()])));
"""
    assert json.loads(_run(tmp_path, program, str(_selection(tmp_path, ids)))) == runs


@needs_node
def test_the_reports_of_several_runs_merge_into_one_with_counts_added(tmp_path: Path) -> None:
    shutil.copy(DATA / "jest-results.json", tmp_path / "a.json")
    shutil.copy(DATA / "vitest-nested.json", tmp_path / "b.json")
    parts = [str(tmp_path / "a.json"), str(tmp_path / "missing.json"), str(tmp_path / "b.json")]
    _run(tmp_path, "rerun.mergeReports(JSON.parse(args[0]), args[1]);", json.dumps(parts), str(tmp_path / "jest.json"))
    merged = parse_test_report("jest", (tmp_path / "jest.json").read_bytes())
    assert (merged.tests_passed, merged.tests_failed, merged.tests_skipped) == (2 + 3, 1 + 2, 2 + 2)
    assert len(merged.cases) == 5 + 7
