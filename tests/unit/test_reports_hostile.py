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

from sigma_exec.models import MAX_TEST_ID_CHARS
from sigma_exec.reports import COVERAGE_KINDS, TEST_REPORT_KINDS, parse_coverage, parse_test_report
from sigma_exec.reports._common import MAX_CASES

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
