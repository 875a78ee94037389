"""The CLI report shows warnings and reasons as text, never as console markup."""

from __future__ import annotations

import pytest

from sigma_exec.cli import render_outcome


def test_warnings_and_reasons_with_brackets_are_printed_literally(capsys: pytest.CaptureFixture[str]) -> None:
    render_outcome(
        {
            "proposal_id": "p1",
            "project_id": "x",
            "node": "n",
            "status": "rejected",
            "stages": [],
            "warnings": ["dependency unavailable: pyproject.toml [test]: sigma-nope: not found on the index"],
            "reasons": ["[bold red]forged[/] reason from a sandbox"],
        }
    )
    printed = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "pyproject.toml [test]: sigma-nope: not found on the index" in printed
    assert "[bold red]forged[/] reason from a sandbox" in printed
