"""The executor's memory of its sandboxes: one entry per sandbox, whichever id names it (pure)."""

from __future__ import annotations

from sigma_exec.registry import SandboxRegistry

FULL = "f" * 64


def test_a_short_and_a_full_id_name_one_sandbox_and_are_forgotten_together() -> None:
    registry = SandboxRegistry()
    entry = registry.remember(("fff", FULL), {"sigma.managed": "1"})
    assert registry.get("fff") is entry and registry.get(FULL) is entry and len(registry) == 1
    assert registry.lock("fff") is registry.lock(FULL)
    entry.oom_seen = 3
    registry.forget("fff")  # forgetting by the short id forgets the full one too
    assert registry.get(FULL) is None and registry.get("fff") is None and len(registry) == 0


def test_a_lock_taken_before_the_sandbox_was_known_stays_its_lock() -> None:
    registry = SandboxRegistry()
    early = registry.lock("abc")
    assert registry.remember(("abc", FULL), {}).lock is early
    assert registry.lock(FULL) is early


def test_an_id_learned_later_joins_the_existing_entry() -> None:
    registry = SandboxRegistry()
    entry = registry.remember((FULL,), {"a": "1"})
    assert registry.remember(("ff", FULL), {"a": "2"}) is entry  # known already: same entry, labels kept
    assert entry.labels == {"a": "1"} and entry.aliases == {FULL, "ff"}
