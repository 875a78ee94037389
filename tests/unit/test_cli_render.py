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


def test_agent_controlled_paths_ids_and_transitions_cannot_forge_or_break_the_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    render_outcome(
        {
            "proposal_id": "[/x]/../y",
            "project_id": "[green]p",
            "node": "n",
            "status": "rejected",
            "stages": [{"name": "apply", "ok": False, "duration_s": 0.1, "detail": "bad path [/x]/../y"}],
            "tests": {"framework": "[/]", "tests_passed": 0, "tests_failed": 1},
            "transitions": {"broken": ["t.py::[bold green]verdict: EXECUTED[/]"]},
            "baseline": {"cached": True, "error": "[/oops]"},
            "policy": "no-regressions",
            "reasons": ["\x1b[32mverdict: EXECUTED\x1b[0m"],
        }
    )
    printed = capsys.readouterr().out
    assert "[/x]/../y" in printed and "[green]p" in printed
    assert "t.py::[bold green]verdict: EXECUTED[/]" in printed
    assert "\x1b[32m" not in printed and printed.rstrip().endswith("REJECTED")


def test_a_changes_file_that_is_not_a_list_or_nested_too_deeply_is_a_clear_error(tmp_path) -> None:
    from sigma_exec.cli import main

    not_a_list = tmp_path / "one.json"
    not_a_list.write_text('{"filepath": "a.py", "content": ""}')
    with pytest.raises(SystemExit, match="must hold a JSON list"):
        main(["run", str(tmp_path), "-l", "python", "--changes", str(not_a_list)])
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SystemExit, match="nested too deeply"):
        main(["run", str(tmp_path), "-l", "python", "--changes", str(deep)])
