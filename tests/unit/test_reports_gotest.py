"""Go: the event stream of `go test -json`, mixed with plain compiler and FAIL lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_exec.models import CaseOutcome
from sigma_exec.reports import parse_test_report

DATA = Path(__file__).parents[1] / "data" / "reports"
BUILD_ERROR = (
    "# example.com/demo/broken [example.com/demo/broken.test]\n"
    "broken/broken_test.go:6:18: undefined: Sub\n"
    "FAIL\texample.com/demo/broken [build failed]"
)


def _parse(name: str):
    return parse_test_report("gotest", (DATA / name).read_bytes())


def _counts(report) -> tuple[int | None, ...]:
    return (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)


def _events(*events: dict[str, object]) -> bytes:
    return "\n".join(json.dumps(e) for e in events).encode()


def test_gotest_counts_tests_and_subtests_by_final_action() -> None:
    report = _parse("gotest-calc.jsonl")
    assert report.framework == "gotest"
    assert report.error is None
    assert _counts(report) == (4, 3, 1, 0)
    assert [(c.name, c.outcome) for c in report.cases] == [
        ("TestAdd", CaseOutcome.PASSED),
        ("TestAddWrong", CaseOutcome.FAILED),
        ("TestSkipped", CaseOutcome.SKIPPED),
        ("TestTable/small", CaseOutcome.PASSED),
        ("TestTable/zero", CaseOutcome.PASSED),
        ("TestTable/wrong", CaseOutcome.FAILED),
        ("TestTable", CaseOutcome.FAILED),
        ("TestSign", CaseOutcome.PASSED),
    ]


def test_gotest_takes_failure_messages_from_test_output() -> None:
    cases = {c.name: c for c in _parse("gotest-calc.jsonl").cases}
    assert cases["TestAddWrong"].message == "    calc_test.go:13: Add(2, 2) = 4, want 5\n--- FAIL: TestAddWrong (0.00s)"
    assert cases["TestAddWrong"].classname == "example.com/demo/calc"
    assert cases["TestAddWrong"].duration_s == 0.0
    assert cases["TestAdd"].message is None


def test_gotest_reports_a_build_failure_written_only_as_plain_lines() -> None:
    report = _parse("gotest-build-failed.jsonl")
    assert _counts(report) == (0, 0, 0, 1)
    assert report.error == BUILD_ERROR
    assert report.cases == []


def test_gotest_reports_go124_build_output_events() -> None:
    report = _parse("gotest-go124-build-failed.jsonl")
    assert _counts(report) == (1, 0, 0, 1)
    assert report.error == BUILD_ERROR


def test_gotest_counts_build_and_testmain_failures_of_each_package_once() -> None:
    report = _parse("gotest-mixed.jsonl")
    assert _counts(report) == (4, 3, 1, 2)
    assert report.error == BUILD_ERROR + "\nsetup: database unreachable\nFAIL\texample.com/demo/mainpanic\t0.002s"


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("# example.com/x\n./x.go:3:1: syntax error: unexpected }\nFAIL example.com/x [build failed]\n", (0, 0, 0, 1)),
        ("go: example.com/y: missing go.sum entry\nFAIL\texample.com/y [setup failed]\n", (0, 0, 0, 1)),
        (
            "FAIL\texample.com/a [build failed]\nFAIL\texample.com/b [build failed]\n"
            "FAIL\texample.com/a [build failed]",
            (0, 0, 0, 2),
        ),
    ],
)
def test_gotest_counts_plain_fail_lines_as_errored_packages(text: str, counts: tuple[int, ...]) -> None:
    report = parse_test_report("gotest", text.encode())
    assert _counts(report) == counts
    assert report.error == text.strip()


def test_gotest_keeps_the_last_twenty_output_lines_of_a_failed_test() -> None:
    lines = [{"Action": "output", "Package": "p", "Test": "TestX", "Output": f"line {i}\n"} for i in range(30)]
    report = parse_test_report("gotest", _events(*lines, {"Action": "fail", "Package": "p", "Test": "TestX"}))
    assert report.cases[0].message == "\n".join(f"line {i}" for i in range(10, 30))


def test_gotest_ignores_malformed_events_and_noise_between_them() -> None:
    data = b"\n".join(
        [
            b'{"Action": "pass", "Package": "p", "Test": "TestA", "Elapsed": 0.5}',
            b'{"Action": "pass", "Package": "p", "Test": 7}',
            b'{"Action": 1}',
            b"[1, 2]",
            b'{"Action": "fail", "Package": "p", "Te',
            b"{" + b"[" * 100_000,
            b"some stray stderr",
            b'{"Action": "skip", "Package": "p", "Test": "TestB"}',
            b'{"Action": "pass", "Package": "p", "Elapsed": 0.6}',
        ]
    )
    report = parse_test_report("gotest", data)
    assert _counts(report) == (1, 0, 1, 0)
    assert report.cases[0].duration_s == 0.5
    assert report.error is None


def test_gotest_does_not_count_a_package_fail_as_errored_when_its_tests_failed() -> None:
    data = _events(
        {"Action": "fail", "Package": "p", "Test": "TestA"},
        {"Action": "output", "Package": "p", "Output": "FAIL\tp\t0.01s\n"},
        {"Action": "fail", "Package": "p"},
    )
    report = parse_test_report("gotest", data)
    assert _counts(report) == (0, 1, 0, 0)
    assert report.error is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "report unreadable: empty"),
        (b"hello\nworld\n", "report unreadable: no go test events"),
        (b"[" * 10_000_000, "report unreadable: no go test events"),
        (b'{"Time": "2024-01-01T00:00:00Z"}', "report unreadable: no go test events"),
    ],
)
def test_gotest_reports_a_stream_without_events_as_unreadable(data: bytes, reason: str) -> None:
    report = parse_test_report("gotest", data)
    assert report.error == reason
    assert _counts(report) == (None, None, None, None)


# ---- per-test identity: `importpath::TestName/subtest`, what go-rerun.sh selects again ----------------


def test_gotest_ids_are_the_package_import_path_and_the_name_go_printed_for_each_level() -> None:
    # Captured from the Go image: a table test (a name with a space, one with a slash, a repeated name),
    # nested subtests with brackets, a non-ASCII test name and an example.
    report = _parse("gotest-subtests.jsonl")
    assert [(c.id, c.outcome) for c in report.cases] == [
        ("example.com/shapes/shapes::TestArea/unit_square", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestArea/wide/flat", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestArea/unit_square#01", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestArea/wrong", CaseOutcome.FAILED),
        ("example.com/shapes/shapes::TestArea", CaseOutcome.FAILED),
        ("example.com/shapes/shapes::TestNested/ints/case[0]", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestNested/ints/case[1]", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestNested/ints", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestNested/floats/case[0]", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestNested/floats/case[1]", CaseOutcome.SKIPPED),
        ("example.com/shapes/shapes::TestNested/floats", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestNested", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::TestÜber", CaseOutcome.PASSED),
        ("example.com/shapes/shapes::ExampleHello", CaseOutcome.PASSED),
    ]
    assert _counts(report) == (11, 2, 1, 0)


def test_gotest_ids_in_gopath_mode_carry_go_s_local_import_path() -> None:
    # Without go.mod, go names a package outside GOPATH by its directory: `_/workspace`.
    report = _parse("gotest-gopath.jsonl")
    failing = [c.id for c in report.cases if c.outcome is CaseOutcome.FAILED]
    assert failing == ["_/workspace::TestArea/wrong", "_/workspace::TestArea"]


def test_gotest_ids_are_stable_across_two_parses_and_unique_per_package() -> None:
    first = [c.id for c in _parse("gotest-subtests.jsonl").cases]
    assert first == [c.id for c in _parse("gotest-subtests.jsonl").cases]
    assert len(set(first)) == len(first)
    mixed = [c.id for c in _parse("gotest-mixed.jsonl").cases]
    assert len(set(mixed)) == len(mixed) and all("::Test" in i for i in mixed)


def test_gotest_gives_the_same_test_name_in_two_packages_two_ids() -> None:
    data = _events(
        {"Action": "pass", "Package": "example.com/app", "Test": "TestA"},
        {"Action": "fail", "Package": "example.com/app/sub", "Test": "TestA"},
        {"Action": "pass", "Test": "TestOrphan"},  # no package: the name alone
    )
    cases = parse_test_report("gotest", data).cases
    assert [(c.id, c.name, c.classname) for c in cases] == [
        ("example.com/app::TestA", "TestA", "example.com/app"),
        ("example.com/app/sub::TestA", "TestA", "example.com/app/sub"),
        ("TestOrphan", "TestOrphan", ""),
    ]
