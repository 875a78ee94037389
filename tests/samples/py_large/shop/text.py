"""Text helpers for receipts."""

from __future__ import annotations

import re


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().strip()).strip("-")


def truncate(text: str, length: int) -> str:
    if len(text) <= length:
        return text
    if length <= 3:
        return text[:length]
    return text[: length - 3] + "..."


def pad(left: str, right: str, width: int) -> str:
    dots = width - len(left) - len(right)
    return f"{left}{'.' * dots}{right}" if dots > 0 else f"{left} {right}"


def titleize(text: str) -> str:
    return " ".join(word.capitalize() for word in text.split())
