"""RSpec reports: the JSON of `rspec --format json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_exec.models import CaseOutcome
from sigma_exec.reports import parse_test_report

DATA = Path(__file__).parents[1] / "data" / "reports"


def _parse(name: str):
    return parse_test_report("rspec", (DATA / name).read_bytes())


def _counts(report) -> tuple[int | None, ...]:
    return (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)


def test_rspec_counts_examples_failures_and_pending() -> None:
    report = _parse("rspec-results.json")
    assert report.framework == "rspec"
    assert report.error is None
    assert _counts(report) == (2, 2, 2, 0)


def test_rspec_reads_examples_with_exception_and_pending_messages() -> None:
    cases = _parse("rspec-results.json").cases
    assert [(c.name, c.outcome) for c in cases] == [
        ("Calc adds numbers", CaseOutcome.PASSED),
        ("Calc adds wrong", CaseOutcome.FAILED),
        ("Calc divides by zero", CaseOutcome.FAILED),
        ("Calc is pending", CaseOutcome.SKIPPED),
        ("Calc is skipped", CaseOutcome.SKIPPED),
        ("Calc knows the sign", CaseOutcome.PASSED),
    ]
    assert cases[1].message == "expected: 5\n     got: 4\n\n(compared using ==)"
    assert cases[2].message == "divided by 0"
    assert cases[3].message == "not implemented"
    assert cases[0].duration_s == 0.00076778
    assert cases[0].classname == "./spec/calc_spec.rb"


def test_rspec_reports_a_load_error_outside_examples_as_errored() -> None:
    report = _parse("rspec-load-error.json")
    assert _counts(report) == (0, 0, 0, 1)
    assert report.error is not None
    assert report.error.startswith("An error occurred while loading ./spec/broken_spec.rb.")
    assert "cannot load such file -- nope_missing_gem" in report.error


def test_rspec_leaves_errored_unreported_for_old_rspec_without_the_field() -> None:
    doc = {"summary": {"example_count": 3, "failure_count": 1, "pending_count": 0}}
    assert _counts(parse_test_report("rspec", json.dumps(doc).encode())) == (2, 1, 0, None)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "report unreadable: empty"),
        (b"[]", "report unreadable: expected a JSON object, got list"),
        (b'{"examples": []}', "report unreadable: no summary object"),
        (b'{"summary": {"example_count": 1}}', "report unreadable: failure_count is missing or not a count"),
        (
            b'{"summary": {"example_count": 1, "failure_count": 2, "pending_count": 0}}',
            "report unreadable: more failures and pending examples than examples",
        ),
        (b'{"summary": {"example_count": 1, "fail', "report unreadable: invalid JSON"),
        (b"{" * 10_000_000, "report unreadable:"),
    ],
)
def test_rspec_reports_bad_json_as_unreadable(data: bytes, reason: str) -> None:
    report = parse_test_report("rspec", data)
    assert report.error is not None
    assert report.error.startswith(reason)
    assert _counts(report) == (None, None, None, None)


def test_rspec_cases_carry_rspecs_own_example_ids() -> None:
    cases = _parse("rspec-nested.json").cases
    assert [(c.id, c.outcome) for c in cases] == [
        ("./spec/calc_spec.rb[1:3]", CaseOutcome.SKIPPED),
        ("./spec/calc_spec.rb[1:1:2]", CaseOutcome.PASSED),  # three examples made in a loop, on one line
        ("./spec/calc_spec.rb[1:1:3]", CaseOutcome.PASSED),
        ("./spec/calc_spec.rb[1:1:4]", CaseOutcome.FAILED),
        ("./spec/calc_spec.rb[1:1:1:1]", CaseOutcome.PASSED),  # from shared examples (it_behaves_like)
        ("./spec/calc_spec.rb[1:2:2]", CaseOutcome.PASSED),
        ("./spec/calc_spec.rb[1:2:1:1]", CaseOutcome.FAILED),  # describe > context > it
    ]
    assert cases[3].name == "Calc.add adds 2 and 2 to 5"
    assert cases[3].classname == "./spec/calc_spec.rb"


def test_rspec_ids_are_the_same_in_two_parses_of_one_report() -> None:
    for name in ("rspec-nested.json", "rspec-results.json"):
        assert [c.id for c in _parse(name).cases] == [c.id for c in _parse(name).cases]


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ({"id": "./spec/a_spec.rb[1:2]", "file_path": "./spec/a_spec.rb", "line_number": 9}, "./spec/a_spec.rb[1:2]"),
        ({"file_path": "./spec/a_spec.rb", "line_number": 9}, "./spec/a_spec.rb:9"),  # RSpec before 3.3
        ({"id": "", "file_path": "./spec/a_spec.rb", "line_number": 9}, "./spec/a_spec.rb:9"),
        ({"id": ["x"], "file_path": "./spec/a_spec.rb", "line_number": True}, "./spec/a_spec.rb::A b"),
        ({"line_number": 9}, "A b"),
    ],
)
def test_an_example_without_an_id_is_named_by_file_and_line_or_else_by_file_and_description(
    example: dict, expected: str
) -> None:
    doc = {
        "summary": {"example_count": 1, "failure_count": 1, "pending_count": 0},
        "examples": [{"full_description": "A b", "status": "failed", **example}],
    }
    assert [c.id for c in parse_test_report("rspec", json.dumps(doc).encode()).cases] == [expected]
