"""Line coverage: coverage.py JSON, Jest coverage-summary.json, Go cover profiles, JaCoCo XML, SimpleCov."""

from __future__ import annotations

import re
from collections.abc import Callable

from sigma_exec.models import CoverageReport
from sigma_exec.reports._common import (
    ReportUnreadable,
    as_count,
    coverage,
    decode,
    load_json_object,
    parse_xml,
)

# JaCoCo's own DOCTYPE, exactly; anything else that declares a DTD is refused by the parser.
_JACOCO_DOCTYPE = re.compile(
    r'\A(\s*<\?xml[^>]{0,200}\?>)?\s*<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1\.1//EN" "report\.dtd">'
)
_GO_BLOCK = re.compile(r"\A(.+:\d{1,9}\.\d{1,9},\d{1,9}\.\d{1,9}) (\d{1,9}) (\d{1,19})\Z")


def coveragepy(data: bytes) -> CoverageReport | None:
    """Read `totals.percent_covered` of a `coverage json` report."""
    totals = load_json_object(data).get("totals")
    return coverage(totals.get("percent_covered"), "coveragepy") if isinstance(totals, dict) else None


def jest_summary(data: bytes) -> CoverageReport | None:
    """Read `total.lines.pct` of a Jest / istanbul coverage-summary.json ("Unknown" gives None)."""
    total = load_json_object(data).get("total")
    lines = total.get("lines") if isinstance(total, dict) else None
    return coverage(lines.get("pct"), "jest-summary") if isinstance(lines, dict) else None


def simplecov(data: bytes) -> CoverageReport | None:
    """Read `result.line` (SimpleCov >= 0.18) or `result.covered_percent` of a .last_run.json."""
    result = load_json_object(data).get("result")
    if not isinstance(result, dict):
        return None
    percent = result.get("line", result.get("covered_percent"))
    return coverage(percent, "simplecov")


def gocover(data: bytes) -> CoverageReport | None:
    """Compute covered / total statements of a Go cover profile, counting duplicate blocks once."""
    lines = decode(data).strip().splitlines()
    if not lines[0].startswith("mode: "):
        raise ReportUnreadable("a Go cover profile starts with 'mode: '")
    blocks: dict[str, tuple[int, bool]] = {}
    for line in lines[1:]:
        if not line.strip() or line.startswith("mode: "):  # merged profiles repeat the mode line
            continue
        match = _GO_BLOCK.match(line.strip())
        if match is None:
            raise ReportUnreadable(f"not a cover profile line: {line[:80]!r}")
        block, statements, count = match[1], int(match[2]), int(match[3])
        _, covered = blocks.get(block, (statements, False))
        blocks[block] = (statements, covered or count > 0)
    total = sum(statements for statements, _ in blocks.values())
    hit = sum(statements for statements, covered in blocks.values() if covered)
    return coverage(hit * 100 / total, "gocover") if total else None


def jacoco(data: bytes) -> CoverageReport | None:
    """Read the report-level LINE counter of a JaCoCo XML report."""
    text = _JACOCO_DOCTYPE.sub(lambda m: m[1] or "", decode(data), count=1)
    root = parse_xml(text)
    if root.tag != "report":
        raise ReportUnreadable(f"root element is <{root.tag}>, not <report>")
    for counter in root.findall("counter"):
        if counter.get("type") == "LINE":
            missed, covered = _int_attr(counter.get("missed")), _int_attr(counter.get("covered"))
            if missed is None or covered is None or missed + covered == 0:
                return None
            return coverage(covered * 100 / (missed + covered), "jacoco")
    return None


def _int_attr(raw: str | None) -> int | None:
    if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 18:
        return None
    return as_count(int(raw.strip()))


PARSERS: dict[str, Callable[[bytes], CoverageReport | None]] = {
    "coveragepy": coveragepy,
    "jest-summary": jest_summary,
    "gocover": gocover,
    "jacoco": jacoco,
    "simplecov": simplecov,
}
