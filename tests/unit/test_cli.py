"""The CLI's argument handling and error paths (no services needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_exec import cli


def test_status_without_redis_is_a_clean_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from tasks import runtime

    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "redis://127.0.0.1:1/0")
    for cached in (runtime.settings, runtime.store):  # read the environment afresh, not an earlier test's
        cached.cache_clear()
    try:
        assert cli.main(["status", "nope"]) == 2
    finally:
        monkeypatch.undo()
        for cached in (runtime.settings, runtime.store):
            cached.cache_clear()
    assert "redis unavailable" in capsys.readouterr().err


def test_a_missing_changes_file_is_named() -> None:
    with pytest.raises(SystemExit, match=r"no-such\.json"):
        cli._load_changes("no-such.json")


def test_run_requires_a_language() -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "."])


@pytest.mark.parametrize("bad_id", ["two\nlines", "nul\x00byte", "x" * 201])
def test_a_malformed_proposal_id_is_refused_by_name_before_anything_runs(bad_id: str, capsys) -> None:
    assert cli.main(["run", "examples/sample_project", "--language", "python", "--proposal-id", bad_id]) == 2
    assert "invalid proposal: proposal_id" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"filepath": "a.py"}', "must hold a JSON list of {filepath, content | delete} objects"),
        ('["a.py", "b.py"]', 'change #1 must be a JSON object like {"filepath": "src/a.py", "content": "..."}'),
        ('[{"filepath": "a.py", "content": "x"}, 3]', "change #2 must be a JSON object like"),
        ("[null]", "not a JSON null"),
    ],
)
def test_a_malformed_changes_file_gets_a_message_a_person_understands(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "changes.json"
    path.write_text(content)
    with pytest.raises(SystemExit) as raised:
        cli._load_changes(str(path))
    assert expected in str(raised.value) and "Input should be" not in str(raised.value)
