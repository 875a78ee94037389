"""Shared helpers of the report parsers: size cap, decoding, safe JSON and XML, typed reads."""

from __future__ import annotations

import json
import math
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from sigma_exec.constants import REPORT_CAP_BYTES
from sigma_exec.models import CoverageReport, ParsedReport, TestCase

MAX_CASES = 5000
MESSAGE_CHARS = 2000
ERROR_CHARS = 4000
MAX_XML_TAGS = 1_000_000  # start plus end tags; far above any real report, far below a 16 MB flood


class ReportUnreadable(Exception):
    """Raised inside a parser when a report cannot be read; the message is the reason."""


def unreadable(framework: str, reason: str) -> ParsedReport:
    """Return the report that says `reason` kept it from being read, with no counts."""
    return ParsedReport(framework=framework, error=f"report unreadable: {reason}")


def decode(data: bytes) -> str:
    """Return `data` as text, or raise ReportUnreadable when it is empty or over the cap."""
    if len(data) > REPORT_CAP_BYTES:
        raise ReportUnreadable(f"over {REPORT_CAP_BYTES} bytes")
    text = bytes(data).decode("utf-8", errors="replace")
    if not text.strip():
        raise ReportUnreadable("empty")
    return text


def load_json(data: bytes) -> Any:
    """Return the JSON value in `data`, or raise ReportUnreadable."""
    text = decode(data)
    try:
        return json.loads(text)
    except RecursionError:
        raise ReportUnreadable("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ReportUnreadable(f"invalid JSON: {exc}") from None


def load_json_object(data: bytes) -> dict[str, Any]:
    """Return the JSON object in `data`, or raise ReportUnreadable when it is anything else."""
    value = load_json(data)
    if not isinstance(value, dict):
        raise ReportUnreadable(f"expected a JSON object, got {type(value).__name__}")
    return value


def parse_xml(text: str) -> Element:
    """Return the root of the XML document `text`, refusing any DTD, entity or external reference."""
    if text.count("<") > MAX_XML_TAGS:
        raise ReportUnreadable(f"over {MAX_XML_TAGS} XML tags")
    try:
        return fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ReportUnreadable(f"forbidden XML construct: {type(exc).__name__}") from None
    except ParseError as exc:
        raise ReportUnreadable(f"invalid XML: {exc}") from None
    except RecursionError:
        raise ReportUnreadable("XML nested too deeply") from None


def as_count(value: object) -> int | None:
    """Return `value` if it is a non-negative int (not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def require_count(mapping: dict[str, Any], key: str) -> int:
    """Return mapping[key] as a count, or raise ReportUnreadable naming the key."""
    count = as_count(mapping.get(key))
    if count is None:
        raise ReportUnreadable(f"{key} is missing or not a count")
    return count


def optional_count(mapping: dict[str, Any], key: str) -> int | None:
    """Return mapping[key] as a count, None if absent; raise ReportUnreadable if it is not a count."""
    if key not in mapping or mapping[key] is None:
        return None
    return require_count(mapping, key)


def as_seconds(value: object, scale: float = 1.0) -> float | None:
    """Return `value` (a number, or a numeric string) times `scale` as seconds, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.replace(",", ""))
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value) * scale


def clip(text: object, limit: int = MESSAGE_CHARS) -> str | None:
    """Return `text` cut to `limit` characters, None if it is not a non-empty string."""
    if not isinstance(text, str) or not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def coverage(percent: object, source: str) -> CoverageReport | None:
    """Return a CoverageReport for `percent` rounded to 2 places, or None if it is no valid percent."""
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        return None
    if not math.isfinite(percent) or not 0 <= percent <= 100:
        return None
    return CoverageReport(percent=round(float(percent), 2), source=source)


def capped(cases: list[TestCase]) -> list[TestCase]:
    """Return the first MAX_CASES cases."""
    return cases[:MAX_CASES]
