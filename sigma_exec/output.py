"""A bounded head-and-tail buffer for untrusted output (pure)."""

from __future__ import annotations

import re
from collections import deque

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b[ -/]*[0-~]")


def _strip(data: bytes) -> bytes:
    """Terminal escapes removed, and any ESC left over (a sequence cut in half) too."""
    return _ANSI.sub(b"", data).replace(b"\x1b", b"")


class BoundedOutput:
    """Keeps the first and last `cap // 2` bytes written; memory never exceeds `cap`."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._head = bytearray()
        self._head_cap = cap // 2
        self._tail: deque[bytes] = deque()
        self._tail_len = 0
        self._tail_cap = cap - self._head_cap
        self.total = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        if len(data) >= self._tail_cap:
            self._tail.clear()
            self._tail.append(bytes(data[-self._tail_cap :]))
            self._tail_len = self._tail_cap
            return
        self._tail.append(bytes(data))
        self._tail_len += len(data)
        while self._tail_len > self._tail_cap:
            first = self._tail[0]
            excess = self._tail_len - self._tail_cap
            if len(first) <= excess:
                self._tail.popleft()
                self._tail_len -= len(first)
            else:
                self._tail[0] = first[excess:]
                self._tail_len -= excess

    @property
    def truncated(self) -> bool:
        return self.total > len(self._head) + self._tail_len

    def kept_bytes(self) -> int:
        return len(self._head) + self._tail_len

    def text(self) -> str:
        """Decoded text (invalid UTF-8 replaced, terminal escapes removed) with a cut marker."""
        tail = b"".join(self._tail)
        if self.truncated:
            cut = self.total - len(self._head) - len(tail)
            body = _strip(bytes(self._head)) + f"\n…[{cut} bytes cut]…\n".encode() + _strip(tail)
        else:
            body = _strip(bytes(self._head) + tail)
        return body.decode("utf-8", errors="replace")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def sanitize_text(text: str) -> str:
    """Text from a sandbox or a registry client made safe for a log, a terminal or Redis."""
    stripped = _strip(text.encode("utf-8", errors="replace")).decode("utf-8", errors="replace")
    return _CONTROL.sub("", stripped)
