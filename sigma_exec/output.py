"""A bounded head-and-tail buffer for untrusted output (pure)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b[ -/]*[0-~]")


def _strip(data: bytes) -> bytes:
    """Terminal escapes removed, and any ESC left over (a sequence cut in half) too."""
    return _ANSI.sub(b"", data).replace(b"\x1b", b"")


# Lines a `keep` predicate may ask for hold one of these (every runner's failure summary does): only lines
# with one are looked at, found by C-level searches, so a flood of other lines costs no Python per line.
KEEP_MARKERS = (b"fail", b"FAIL", b"Fail", b"error", b"ERROR")
KEPT_LINES = 64
KEPT_LINE_BYTES = 2000
KEPT_BYTES = 16 * 1024  # all kept lines together: what a cut output may grow by
KEEP_CHECKS = 200_000  # lines with a marker handed to `keep`; past these a flood is no longer looked at


class _LineKeeper:
    """The first KEPT_LINES lines that `keep` chooses and that do not lie wholly in the first `visible` bytes
    (always shown), with the offsets where each starts and ends in the stream."""

    def __init__(self, keep: Callable[[str], bool], visible: int) -> None:
        self.keep = keep
        self.visible = visible
        self.kept: list[tuple[int, int, str]] = []
        self._kept_bytes = 0
        self._line = bytearray()  # the line still open at the end of the last write: its first bytes
        self._start = 0
        self._checked = 0

    @property
    def done(self) -> bool:
        return len(self.kept) >= KEPT_LINES or self._kept_bytes >= KEPT_BYTES or self._checked >= KEEP_CHECKS

    def feed(self, data: bytes, offset: int) -> None:
        if self.done:
            return
        first = data.find(b"\n")
        if first < 0:
            self._carry(data)
            return
        self._carry(data[:first])
        self._check(bytes(self._line), self._start)
        last = data.rfind(b"\n")
        if last > first:
            self._scan(data, first + 1, last, offset)
        self._line, self._start = bytearray(), offset + last + 1
        self._carry(data[last + 1 :])

    def _carry(self, piece: bytes) -> None:
        room = KEPT_LINE_BYTES + 1 - len(self._line)
        if room > 0:
            self._line += piece[:room]

    def _scan(self, data: bytes, begin: int, end: int, offset: int) -> None:
        """Check the whole lines in data[begin:end] that hold a marker, in order."""
        starts: set[int] = set()
        for marker in KEEP_MARKERS:
            at = data.find(marker, begin, end)
            while at >= 0 and len(starts) < KEEP_CHECKS:
                line_start = data.rfind(b"\n", begin, at) + 1 or begin
                line_end = data.find(b"\n", at, end + 1)
                starts.add(max(line_start, begin))
                at = data.find(marker, line_end, end)
        for line_start in sorted(starts):
            if self.done:
                return
            line_end = data.find(b"\n", line_start, end + 1)
            self._check(data[line_start : min(line_end, line_start + KEPT_LINE_BYTES + 1)], offset + line_start)

    def _check(self, line: bytes, start: int) -> None:
        end = start + len(line)
        if end <= self.visible or len(line) > KEPT_LINE_BYTES or not any(m in line for m in KEEP_MARKERS):
            return
        self._checked += 1
        text = _strip(line).decode("utf-8", errors="replace").rstrip("\r")
        if self.keep(text):
            self.kept.append((start, end, text))
            self._kept_bytes += len(line)


class BoundedOutput:
    """Keeps the first and last `cap // 2` bytes written; memory never exceeds `cap`.

    With `keep`, the first KEPT_LINES lines it chooses are kept wherever they are: those that fall into
    the cut part are shown where it was cut (a flood after a runner's failure summary cannot hide it).
    """

    def __init__(self, cap: int, keep: Callable[[str], bool] | None = None) -> None:
        self.cap = cap
        self._head = bytearray()
        self._head_cap = cap // 2
        self._tail: deque[bytes] = deque()
        self._tail_len = 0
        self._tail_cap = cap - self._head_cap
        self.total = 0
        self._keeper = _LineKeeper(keep, self._head_cap) if keep is not None else None

    def write(self, data: bytes) -> None:
        if self._keeper is not None:
            self._keeper.feed(data, self.total)
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

    @classmethod
    def of_parts(cls, head: bytes, tail: bytes, total: int) -> BoundedOutput:
        """The output of which `head` and `tail` were kept out of `total` bytes (cut in the sandbox)."""
        out = cls(len(head) + len(tail))
        out._head = bytearray(head)
        out._tail = deque([tail]) if tail else deque()
        out._tail_len = len(tail)
        out.total = max(total, len(head) + len(tail))
        return out

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
            marker = f"\n…[{cut} bytes cut]…\n" + self._kept_from(len(self._head), self.total - len(tail))
            body = _strip(bytes(self._head)) + marker.encode() + _strip(tail)
        else:
            body = _strip(bytes(self._head) + tail)
        return body.decode("utf-8", errors="replace")

    def _kept_from(self, start: int, end: int) -> str:
        """The kept lines that the cut part [start, end) holds wholly or in part."""
        kept = self._keeper.kept if self._keeper else []
        lines = [text for line_start, line_end, text in kept if line_start < end and line_end > start]
        if not lines:
            return ""
        return "…[lines kept from the cut part:]…\n" + "\n".join(lines) + "\n…[end of the kept lines]…\n"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def sanitize_text(text: str) -> str:
    """Text from a sandbox or a registry client made safe for a log, a terminal or Redis."""
    stripped = _strip(text.encode("utf-8", errors="replace")).decode("utf-8", errors="replace")
    return _CONTROL.sub("", stripped)
