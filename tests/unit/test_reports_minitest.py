"""Minitest: the plain-text summary line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_exec.models import CaseOutcome
from sigma_exec.reports import parse_test_report

DATA = Path(__file__).parents[1] / "data" / "reports"


def _counts(report) -> tuple[int | None, ...]:
    return (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)


def test_minitest_counts_runs_failures_errors_and_skips() -> None:
    report = parse_test_report("minitest", (DATA / "minitest-output.txt").read_bytes())
    assert report.framework == "minitest"
    assert report.error is None
    assert _counts(report) == (2, 1, 1, 1)


def test_minitest_reads_failures_and_errors_as_cases() -> None:
    cases = parse_test_report("minitest", (DATA / "minitest-output.txt").read_bytes()).cases
    assert [(c.classname, c.name, c.outcome) for c in cases] == [
        ("CalcTest", "test_divides_by_zero", CaseOutcome.ERRORED),
        ("CalcTest", "test_adds_wrong", CaseOutcome.FAILED),
    ]
    assert cases[1].message == "Expected: 5\n  Actual: 4"


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("3 runs, 5 assertions, 1 failures, 1 errors, 1 skips", (0, 1, 1, 1)),
        ("1 runs, 1 assertions, 0 failures, 0 errors, 0 skips", (1, 0, 0, 0)),
        (
            "10 runs, 20 assertions, 0 failures, 0 errors, 0 skips\n"
            "7 runs, 9 assertions, 2 failures, 0 errors, 1 skips\n",
            (4, 2, 1, 0),
        ),
        (
            "\x1b[32m6 tests\x1b[0m, 8 assertions, \x1b[31m1 failures\x1b[0m, 0 errors, \x1b[33m2 skips\x1b[0m",
            (3, 1, 2, 0),
        ),
        ("Finished.\r\n4 runs, 4 assertions, 0 failures, 1 errors, 0 skips\r\n", (3, 0, 0, 1)),
    ],
)
def test_minitest_takes_the_last_summary_line_with_colours_stripped(text: str, counts: tuple[int, ...]) -> None:
    assert _counts(parse_test_report("minitest", text.encode())) == counts


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "report unreadable: empty"),
        (b"Run options: --seed 1\n\n# Running:\n\n", "report unreadable: no minitest summary line"),
        (b"1 runs, 1 assertions, 1 failures, 1 errors, 0 skips", "report unreadable: more failures"),
        (b"1" * 5_000_000 + b" runs, 1 assertions, 0 failures, 0 errors, 0 skips", "report unreadable: no minitest"),
    ],
)
def test_minitest_reports_text_without_a_summary_as_unreadable(data: bytes, reason: str) -> None:
    report = parse_test_report("minitest", data)
    assert report.error is not None
    assert report.error.startswith(reason)
    assert _counts(report) == (None, None, None, None)


# sigma-exec's minitest plugin: every case of a run, with minitest's own `Class#method` ids.
SIGMA_JSON_CASES = [
    ("Deep::NestedTest#test_errors", CaseOutcome.ERRORED),
    ("Deep::NestedTest#test_adds_2_and_2", CaseOutcome.FAILED),  # defined in a loop: one id per value
    ("Deep::NestedTest#test_adds_1_and_2", CaseOutcome.PASSED),
    ("SigmaExecLoadError1#test_loading_test/broken_test.rb", CaseOutcome.ERRORED),  # a file that did not load
    ("Calc::when adding#test_0001_adds numbers", CaseOutcome.PASSED),  # nested `describe` blocks
    ("Calc::when adding#test_0002_fails (on purpose) #1", CaseOutcome.FAILED),
    ("CalcTest#test_multiplies", CaseOutcome.SKIPPED),
    ("CalcTest#test_adds", CaseOutcome.PASSED),
    ("CalcTest#test_divides", CaseOutcome.PASSED),
    ("CalcTest#test_refuses_to_divide_by_zero", CaseOutcome.FAILED),
    ("CalcTest#test_subtracts", CaseOutcome.PASSED),
]


def _sigma_json(**changes: object) -> bytes:
    doc = json.loads((DATA / "minitest-sigma.json").read_text())
    doc.update(changes)
    return json.dumps(doc).encode()


def test_the_sigma_json_report_lists_every_case_with_its_minitest_id() -> None:
    report = parse_test_report("minitest", (DATA / "minitest-sigma.json").read_bytes())
    assert report.error is None
    assert _counts(report) == (5, 3, 1, 2)
    assert [(c.id, c.outcome) for c in report.cases] == SIGMA_JSON_CASES
    failed = report.cases[1]
    assert (failed.classname, failed.name, failed.message) == (
        "Deep::NestedTest",
        "test_adds_2_and_2",
        "Expected: 5\n  Actual: 4",
    )
    assert failed.duration_s is not None and failed.duration_s > 0
    assert report.cases[6].message == "not written yet"


def test_the_json_and_the_text_of_one_run_agree_on_counts_and_on_the_ids_of_failures() -> None:
    from_json = parse_test_report("minitest", (DATA / "minitest-sigma.json").read_bytes())
    from_text = parse_test_report("minitest", (DATA / "minitest-sigma.txt").read_bytes())
    assert _counts(from_json) == _counts(from_text)
    json_problems = {(c.id, c.outcome, c.message) for c in from_json.cases if c.outcome in ("failed", "errored")}
    assert {(c.id, c.outcome, c.message) for c in from_text.cases} == json_problems


def test_minitest_ids_are_the_same_in_two_parses_of_one_report() -> None:
    for name in ("minitest-sigma.json", "minitest-sigma.txt", "minitest-output.txt"):
        data = (DATA / name).read_bytes()
        assert [c.id for c in parse_test_report("minitest", data).cases] == [
            c.id for c in parse_test_report("minitest", data).cases
        ]


def test_text_output_names_its_failures_and_errors_by_class_and_method() -> None:
    cases = parse_test_report("minitest", (DATA / "minitest-output.txt").read_bytes()).cases
    assert [c.id for c in cases] == ["CalcTest#test_divides_by_zero", "CalcTest#test_adds_wrong"]


SUMMARY_LINE = "1 runs, 1 assertions, 0 failures, 0 errors, 0 skips\n"


@pytest.mark.parametrize(
    "text",
    [
        '{"level": "info", "msg": "booted"}\nRun options: --seed 1\n\n' + SUMMARY_LINE,
        '{"format": "other"}\n' + SUMMARY_LINE,
        '{"unterminated": \n' + SUMMARY_LINE,
    ],
)
def test_output_that_starts_with_a_brace_but_is_no_sigma_report_is_read_as_text(text: str) -> None:
    assert _counts(parse_test_report("minitest", text.encode())) == (1, 0, 0, 0)


def test_json_cases_of_the_wrong_shape_are_left_out_and_the_counts_kept() -> None:
    tests = [
        {"class": "A", "name": "test_ok", "outcome": "passed"},
        {"class": "A", "name": "test_odd", "outcome": "exploded"},
        {"class": 1, "name": "test_x", "outcome": "failed"},
        {"class": "A", "name": "", "outcome": "failed"},
        "A#test_y",
        {"class": "A", "name": "test_slow", "outcome": "failed", "time": "NaN", "message": ["not", "text"]},
    ]
    summary = {"runs": 2, "assertions": 2, "failures": 1, "errors": 0, "skips": 0}
    report = parse_test_report("minitest", _sigma_json(summary=summary, tests=tests))
    assert _counts(report) == (1, 1, 0, 0)
    assert [(c.id, c.duration_s, c.message) for c in report.cases] == [
        ("A#test_ok", None, None),
        ("A#test_slow", None, None),
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"summary": None}, "report unreadable: no summary object"),
        ({"summary": {"runs": 1, "failures": 0, "errors": 0}}, "report unreadable: skips is missing or not a count"),
        ({"summary": {"runs": 1, "failures": 1, "errors": 1, "skips": 0}}, "report unreadable: more failures"),
        ({"summary": {"runs": -1, "failures": 0, "errors": 0, "skips": 0}}, "report unreadable: runs is missing"),
    ],
)
def test_a_sigma_json_report_without_sound_counts_is_unreadable(changes: dict, reason: str) -> None:
    report = parse_test_report("minitest", _sigma_json(**changes))
    assert report.error is not None and report.error.startswith(reason)
    assert _counts(report) == (None, None, None, None)


def test_hostile_json_shapes_are_unreadable_not_exceptions() -> None:
    for data in (b"{" * 1_000_000, b'{"format": "sigma-exec-minitest", "summary": ' + b"[" * 100_000):
        report = parse_test_report("minitest", data)
        assert report.error is not None and report.error.startswith("report unreadable:")
