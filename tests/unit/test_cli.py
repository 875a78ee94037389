"""The CLI's argument handling and error paths (no services needed)."""

from __future__ import annotations

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
