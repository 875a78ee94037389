"""Every setting is documented with its default in config/.env.example and named in the README."""

from __future__ import annotations

import re

from sigma_exec.settings import Settings
from tests.conftest import ROOT


def _example_keys() -> set[str]:
    text = (ROOT / "config" / ".env.example").read_text()
    return {m.group(1) for m in re.finditer(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE)}


def test_env_example_lists_every_setting() -> None:
    assert set(Settings.model_fields) <= _example_keys()


def test_readme_names_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in readme]
    assert missing == []


def test_the_seed_names_are_kept_exactly(monkeypatch) -> None:
    monkeypatch.setenv("TEST_TIMEOUT", "12")
    monkeypatch.setenv("MIN_TEST_COVERAGE", "80.5")
    monkeypatch.setenv("AUTO_BUILD", "false")
    monkeypatch.setenv("PROTECTED_PATHS", "tests/*, conftest.py")
    s = Settings()
    assert (s.TEST_TIMEOUT, s.MIN_TEST_COVERAGE, s.AUTO_BUILD) == (12, 80.5, False)
    assert s.PROTECTED_PATHS == ["tests/*", "conftest.py"]
