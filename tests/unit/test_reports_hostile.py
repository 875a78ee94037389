"""Every report parser, fed mutated and pathological reports: it never raises, stays bounded, and reads
each input in time linear in its size (each shape below was quadratic or worse in some parser once).

A seeded mutation fuzzer (byte flips, cuts, repeated slices, splices of two reports) runs over every
captured report of every kind; the pathological shapes are up to a mebibyte, where a quadratic parser
takes minutes, and must each be read within a bound that a linear one meets with a wide margin.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from sigma_exec.models import MAX_TEST_ID_CHARS, CaseOutcome, ParsedReport, TestCase
from sigma_exec.output import KEPT_BYTES, KEPT_LINE_BYTES, BoundedOutput
from sigma_exec.reports import COVERAGE_KINDS, TEST_REPORT_KINDS, parse_coverage, parse_test_report
from sigma_exec.reports._common import MAX_CASES
from sigma_exec.reports.console import MAX_NAMED, READERS, read_console, reports_failure
from sigma_exec.reports.crosscheck import disagreement

DATA = Path(__file__).resolve().parents[1] / "data" / "reports"
SAMPLES = {
    "junit": sorted(DATA.glob("junit-*.xml")),
    "jest": sorted([*DATA.glob("jest-*.json"), *DATA.glob("vitest-*.json"), *DATA.glob("mocha-*.json")]),
    "gotest": sorted(DATA.glob("gotest-*.jsonl")),
    "rspec": sorted(DATA.glob("rspec-*.json")),
    "minitest": sorted(DATA.glob("minitest-*")),
    "coveragepy": sorted(DATA.glob("coverage-py*.json")),
    "jest-summary": [DATA / "jest-coverage-summary.json"],
    "gocover": sorted(DATA.glob("gocover-*.out")),
    "jacoco": sorted(DATA.glob("jacoco*.xml")),
    "simplecov": sorted(DATA.glob("simplecov-*.json")),
}
MUTATIONS_PER_SAMPLE = 40
LINEAR_BOUND_S = 3.0  # for ~1 MiB: a linear parser needs well under a second, a quadratic one minutes
SUMMARY = b"\n1 runs, 1 assertions, 1 failures, 0 errors, 0 skips\n"


def test_every_kind_has_samples() -> None:
    assert set(SAMPLES) == TEST_REPORT_KINDS | COVERAGE_KINDS
    assert all(SAMPLES[kind] and all(p.is_file() for p in SAMPLES[kind]) for kind in SAMPLES)


def _mutate(data: bytes, other: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        what = rng.randrange(5)
        at = rng.randrange(len(data) + 1)
        if what == 0 and data:  # flip a byte
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif what == 1:  # cut here
            data = data[:at]
        elif what == 2:  # repeat a slice many times
            end = min(len(data), at + rng.randint(1, 200))
            data[at:at] = data[at:end] * rng.randint(2, 50)
        elif what == 3:  # splice in part of another report
            data[at:at] = other[: rng.randint(0, len(other))]
        else:  # insert structural characters
            data[at:at] = rng.choice([b"<", b"{", b"[", b'"', b"\n\n", b"#", b"]", b"\x00", b"\xff\xfe"]) * rng.randint(
                1, 300
            )
    return bytes(data)


def _check(kind: str, data: bytes) -> None:
    if kind in TEST_REPORT_KINDS:
        report = parse_test_report(kind, data)
        counts = (report.tests_passed, report.tests_failed, report.tests_skipped, report.tests_errored)
        assert all(n is None or n >= 0 for n in counts)
        assert len(report.cases) <= MAX_CASES
        assert all(len(case.id) <= MAX_TEST_ID_CHARS for case in report.cases)
    else:
        found = parse_coverage(kind, data)
        assert found is None or 0 <= found.percent <= 100


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_mutated_reports_never_escape_as_exceptions(kind: str) -> None:
    rng = random.Random(f"sigma-{kind}")  # seeded: a failure is reproducible
    every = [path.read_bytes() for paths in SAMPLES.values() for path in paths]
    for path in SAMPLES[kind]:
        sample = path.read_bytes()
        for _ in range(MUTATIONS_PER_SAMPLE):
            _check(kind, _mutate(sample, rng.choice(every), rng))


PATHOLOGICAL = {
    "junit": [
        b"<testsuites>" + b"<testsuite><x>" * 40_000 + b"</x></testsuite>" * 40_000 + b"</testsuites>",
        b"<testsuite>" + b'<testcase classname="a" name="b"><failure message="' + b"x" * 500_000 + b'"/></testcase>',
        b'<testsuite><testcase classname="' + b"a." * 300_000 + b'" name="n" file="t.py"/></testsuite>',
    ],
    "jest": [
        b'{"testResults": ['
        + b'{"name": "/workspace/a.test.js", "assertionResults": [' * 1
        + b"]}" * 0
        + b"[" * 200_000,
        b'{"numTotalTests": 1, "testResults": [{"name": "' + b"/" * 900_000 + b'", "assertionResults": []}]}',
    ],
    "gotest": [
        b'{"Action":"output","Package":"p","Output":"' + b"\\n" * 400_000 + b'"}\n',
        b'{"Action":"fail","Package":"p","Test":"' + b"T/" * 400_000 + b'"}\n',
        b"FAIL " + b"x" * 900_000 + b" [build failed]\n",
    ],
    "rspec": [
        b'{"examples": ['
        + b'{"id": "./s.rb[1]", "status": "failed", "exception": {"message": "'
        + b"m" * 900_000
        + b'"}}]}',
        b"[" * 500_000,
    ],
    "minitest": [
        b"1) Failure:\nA#" + b"b [" * 300_000 + SUMMARY,
        b"1) Failure:\nA#b:\n" * 60_000 + SUMMARY,
        b"1 runs, " * 120_000 + SUMMARY,
    ],
    "coveragepy": [b'{"totals": {"percent_covered": ' + b"9" * 900_000 + b"}}"],
    "jest-summary": [b'{"total": {"lines": {"pct": ' + b"[" * 400_000 + b"}}}"],
    "gocover": [b"mode: set\n" + b"a.go:" * 200_000 + b"1.1,2.2 1 1\n"],
    "jacoco": [
        b"<report>" + b'<counter type="LINE" missed="1" covered="1"/>' * 20_000 + b"<x>" * 100_000 + b"</report>"
    ],
    "simplecov": [b'{"result": {"line": ' + b"1" * 900_000 + b"}}"],
}


@pytest.mark.parametrize(
    ("kind", "index"), [(kind, i) for kind, shapes in sorted(PATHOLOGICAL.items()) for i in range(len(shapes))]
)
def test_pathological_reports_are_read_in_linear_time(kind: str, index: int) -> None:
    data = PATHOLOGICAL[kind][index]
    started = time.monotonic()
    _check(kind, data)
    assert time.monotonic() - started < LINEAR_BOUND_S, f"{kind} shape {index} ({len(data)} bytes) is too slow"


# ---- what runners print: the console summaries read back against the reports ----
CONSOLE = {path.stem.removeprefix("console-"): path.read_bytes() for path in DATA.glob("console-*.txt")}
CONSOLE_FRAMEWORKS = sorted(READERS)
MANY_CASES = ParsedReport(
    framework="junit",
    tests_passed=MAX_CASES,
    tests_failed=0,
    tests_skipped=0,
    tests_errored=0,
    cases=[
        TestCase(name=f"t{i}", id=f"tests/t.py::test_{i}[{i}]", outcome=CaseOutcome.PASSED) for i in range(MAX_CASES)
    ],
)


def _check_console(framework: str, text: str) -> None:
    found = read_console(framework, text)
    if found is not None:
        assert found.failing is None or found.failing >= 0
        assert found.passing is None or found.passing >= 0
        assert len(found.named) <= MAX_NAMED
    message = disagreement(found, MANY_CASES, 0)
    assert message is None or message.startswith("the test report and the test output disagree")


def test_every_console_reader_has_a_sample() -> None:
    assert {"pytest", "jest", "vitest", "mocha", "gotest", "rspec", "minitest", "maven", "junit-platform"} <= set(
        CONSOLE
    )


@pytest.mark.parametrize("framework", CONSOLE_FRAMEWORKS)
def test_mutated_runner_output_never_escapes_as_an_exception(framework: str) -> None:
    rng = random.Random(f"sigma-console-{framework}")
    every = list(CONSOLE.values())
    for sample in every:
        for _ in range(MUTATIONS_PER_SAMPLE):
            _check_console(framework, _mutate(sample, rng.choice(every), rng).decode("utf-8", errors="replace"))


CONSOLE_PATHOLOGICAL = [
    "FAILED tests/t.py::test_x[" + "a - " * 400 + "] - boom\n" * 2_000,  # cut ids: prefix look-ups
    "FAILED tests/t.py::test_" + "1" * 5 + "\n" * 1 + "FAILED tests/t.py::test_1[\n" * 100_000,
    "1 failed, " * 200 + "2 passed in 1s\n" * 3_000,
    ", ".join(["1 failed"] * 150) + " in 1s\n" * 5_000,
    "Tests:" + " 1 failed," * 190 + "\n" * 1 + "      Tests  " + "1 failed | " * 150 + "(3)\n" * 5_000,
    "    " * 400 + "--- FAIL: T" + "/x" * 100 + " (0.00s)\n" * 5_000,
    "--- FAIL: T/" + "a/" * 900 + "\n" * 500,
    "  1) Failure:\n" * 150_000,
    "1 runs, 1 assertions, 1 failures, 1 errors, 1 skips" * 30 + "\n" * 10_000,
    "[INFO] Tests run: 1, Failures: 1, Errors: 0, Skipped: 0\n" * 20_000,
    "[" + " " * 1990 + "1 tests failed ]\n" * 400,
    "\n" * 1_000_000,
    "x" * 1_000_000,
]


@pytest.mark.parametrize("index", range(len(CONSOLE_PATHOLOGICAL)))
@pytest.mark.parametrize("framework", CONSOLE_FRAMEWORKS)
def test_pathological_runner_output_is_read_in_linear_time(framework: str, index: int) -> None:
    text = CONSOLE_PATHOLOGICAL[index]
    started = time.monotonic()
    _check_console(framework, text)
    assert time.monotonic() - started < LINEAR_BOUND_S, f"{framework} shape {index} ({len(text)} chars) is too slow"


@pytest.mark.parametrize(
    "chunk",
    [b"FAILED t.py::x - fail\n" * 50_000, b"fail\n" * 200_000, b"x" * 1_000_000, b"\n" * 1_000_000],
)
def test_an_output_flood_past_the_cap_costs_linear_time_and_bounded_memory(chunk: bytes) -> None:
    out = BoundedOutput(64 * 1024, lambda line: reports_failure("pytest", line))
    started = time.monotonic()
    for _ in range(4):
        out.write(chunk)
    text = out.text()
    assert time.monotonic() - started < LINEAR_BOUND_S
    assert len(text.encode()) < 64 * 1024 + KEPT_BYTES + 2 * KEPT_LINE_BYTES + 200
