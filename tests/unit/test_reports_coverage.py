"""Coverage reports: coverage.py, Jest coverage-summary, Go cover profiles, JaCoCo and SimpleCov."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sigma_exec.models import CoverageReport
from sigma_exec.reports import COVERAGE_KINDS, parse_coverage

DATA = Path(__file__).parents[1] / "data" / "reports"


@pytest.mark.parametrize(
    ("kind", "fixture", "percent"),
    [
        ("coveragepy", "coverage-py.json", 62.5),
        ("jest-summary", "jest-coverage-summary.json", 75.0),
        ("gocover", "gocover-calc.out", 42.86),
        ("gocover", "gocover-coverpkg.out", 50.0),
        ("jacoco", "jacoco.xml", 83.33),
        ("simplecov", "simplecov-last_run.json", 66.66),
    ],
)
def test_coverage_reads_the_line_percent_of_each_format(kind: str, fixture: str, percent: float) -> None:
    assert parse_coverage(kind, (DATA / fixture).read_bytes()) == CoverageReport(percent=percent, source=kind)


@pytest.mark.parametrize(
    ("kind", "data", "percent"),
    [
        ("coveragepy", b'{"totals": {"percent_covered": 66.66666666666667}}', 66.67),
        ("coveragepy", b'{"totals": {"percent_covered": 100}}', 100.0),
        ("jest-summary", b'{"total": {"lines": {"total": 3, "covered": 1, "pct": 33.33}}}', 33.33),
        ("simplecov", b'{"result": {"covered_percent": 91.234}}', 91.23),
        ("simplecov", b'{"result": {"line": 0.0, "covered_percent": 50}}', 0.0),
        ("gocover", b"mode: count\na.go:1.1,2.2 2 0\na.go:3.1,4.2 1 5\n", 33.33),
        ("gocover", b"mode: set\na.go:1.1,2.2 3 1\nmode: set\na.go:1.1,2.2 3 0\nb.go:1.1,2.2 1 0\n", 75.0),
        ("jacoco", b'<report name="x"><counter type="LINE" missed="2" covered="1"/></report>', 33.33),
    ],
)
def test_coverage_rounds_percents_to_two_places(kind: str, data: bytes, percent: float) -> None:
    report = parse_coverage(kind, data)
    assert report is not None
    assert report.percent == percent


def test_coverage_uses_only_the_report_level_jacoco_counter() -> None:
    xml = (
        b'<report name="x"><package name="p"><counter type="LINE" missed="0" covered="9"/></package>'
        b'<counter type="INSTRUCTION" missed="0" covered="5"/><counter type="LINE" missed="3" covered="1"/></report>'
    )
    assert parse_coverage("jacoco", xml) == CoverageReport(percent=25.0, source="jacoco")


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("coveragepy", b'{"totals": {"percent_covered": 140.0}}'),
        ("coveragepy", b'{"totals": {"percent_covered": -1}}'),
        ("coveragepy", b'{"totals": {"percent_covered": NaN}}'),
        ("coveragepy", b'{"totals": {"percent_covered": "62"}}'),
        ("coveragepy", b'{"totals": {"percent_covered": true}}'),
        ("coveragepy", b'{"totals": []}'),
        ("coveragepy", b"[]"),
        ("jest-summary", b'{"total": {"lines": {"total": 0, "covered": 0, "pct": "Unknown"}}}'),
        ("jest-summary", b'{"total": {"lines": 75}}'),
        ("simplecov", b'{"result": {}}'),
        ("simplecov", b'{"timestamp": 1}'),
        ("gocover", b"mode: set\n"),
        ("gocover", b"a.go:1.1,2.2 1 1\n"),
        ("gocover", b"mode: set\na.go:1.1,2.2 one 1\n"),
        ("jacoco", b'<report name="x"><counter type="LINE" missed="0" covered="0"/></report>'),
        ("jacoco", b'<report name="x"><counter type="LINE" missed="-1" covered="3"/></report>'),
        ("jacoco", b'<report name="x"><counter type="BRANCH" missed="1" covered="3"/></report>'),
        ("jacoco", b'<coverage line-rate="0.5"/>'),
        ("jacoco", (DATA / "jacoco-entity.xml").read_bytes()),
        ("jacoco", (DATA / "junit-billion-laughs.xml").read_bytes()),
        ("jacoco", (DATA / "junit-xxe.xml").read_bytes()),
    ],
)
def test_coverage_gives_none_without_a_valid_figure(kind: str, data: bytes) -> None:
    assert parse_coverage(kind, data) is None


def test_coverage_refuses_a_dtd_hidden_after_the_jacoco_doctype() -> None:
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd">'
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><report><counter type="LINE" missed="0" covered="1"/>'
        b"</report>"
    )
    assert parse_coverage("jacoco", xml) is None


@pytest.mark.parametrize("kind", sorted(COVERAGE_KINDS))
@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\xff\xfe", b"[" * 10_000_000, b"{" * 100, b"<" * 100, b"x" * (16 * 1024 * 1024 + 1)],
    ids=["empty", "binary", "nested-brackets", "open-braces", "open-angles", "over-cap"],
)
def test_coverage_gives_none_for_hostile_or_broken_input(kind: str, data: bytes) -> None:
    start = time.monotonic()
    assert parse_coverage(kind, data) is None
    assert time.monotonic() - start < 5.0


def test_coverage_rejects_an_unknown_kind_by_name() -> None:
    with pytest.raises(ValueError, match="'lcov'"):
        parse_coverage("lcov", b"TN:\n")
