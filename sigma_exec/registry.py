"""What one executor remembers of each sandbox, in one place: labels, lock, OOM count, stats, process id.

A sandbox is known under every id it was used by (the full id and any short prefix a caller passed);
all of them name the same entry, and forgetting one forgets them all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

LockAccessor = Callable[[str], threading.Lock]
"""The lock that serialises work in one sandbox, by any id that names it."""


@dataclass
class SandboxEntry:
    """One sandbox's remembered state."""

    labels: dict[str, str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    oom_seen: int = 0
    last_stats: dict[str, Any] | None = None
    identity: tuple[str, int | None] | None = None  # full id, PID of its init process
    aliases: set[str] = field(default_factory=set)


class SandboxRegistry:
    """Thread-safe: pipelines and the warm pool use one executor from several threads."""

    def __init__(self) -> None:
        self._entries: dict[str, SandboxEntry] = {}
        self._unknown_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, container_id: str) -> SandboxEntry | None:
        with self._guard:
            return self._entries.get(container_id)

    def remember(self, ids: Iterable[str], labels: dict[str, str]) -> SandboxEntry:
        """Register a sandbox under each of `ids` (one entry; an id already known joins that entry)."""
        wanted = [i for i in ids if i]
        with self._guard:
            entry = next((self._entries[i] for i in wanted if i in self._entries), None)
            if entry is None:
                lock = next((self._unknown_locks.pop(i) for i in wanted if i in self._unknown_locks), None)
                entry = SandboxEntry(labels=dict(labels), lock=lock or threading.Lock())
            for container_id in wanted:
                self._entries[container_id] = entry
                self._unknown_locks.pop(container_id, None)
                entry.aliases.add(container_id)
            return entry

    def lock(self, container_id: str) -> threading.Lock:
        """The sandbox's lock (one per sandbox, whichever id names it)."""
        with self._guard:
            entry = self._entries.get(container_id)
            if entry is not None:
                return entry.lock
            return self._unknown_locks.setdefault(container_id, threading.Lock())

    def forget(self, container_id: str) -> None:
        """Drop the sandbox under every id it was known by."""
        with self._guard:
            entry = self._entries.pop(container_id, None)
            self._unknown_locks.pop(container_id, None)
            for alias in entry.aliases if entry else ():
                if self._entries.get(alias) is entry:
                    del self._entries[alias]

    def __len__(self) -> int:
        with self._guard:
            return len({id(entry) for entry in self._entries.values()})
