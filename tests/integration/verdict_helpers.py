"""Shared by the per-language verdict tests: write a project, read a run's outcome per test id."""

from __future__ import annotations

from pathlib import Path

from sigma_exec.models import CaseOutcome, TestCase, TestResult


def outcomes(result: TestResult | list[TestCase]) -> dict[str, CaseOutcome]:
    """Each case's outcome by its id."""
    cases = result if isinstance(result, list) else result.cases
    return {case.id: case.outcome for case in cases}


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative path → text) under `root` and return it."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root
