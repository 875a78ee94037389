"""Why pytest ran no test, read from its terminal output (pure, linear, bounded).

pytest stops before its first test with exit code 4 (a usage error, or a conftest.py that fails
to import: no JUnit XML is written then), 2 (collection errors: "Interrupted: N errors during
collection") or 5 (nothing collected). The counts of such a run are zero whatever the output says;
this module only finds the cause to name, e.g. "collection error: conftest.py: ModuleNotFoundError:
No module named 'freezegun'". Only `str` methods are used: no regex runs over the untrusted text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma_exec.constants import WORKSPACE_DIR
from sigma_exec.reports._common import clip

SCAN_CHARS = 1_000_000  # collection errors come first in pytest's output; a flood after them is not read
EXIT_INTERRUPTED = 2
EXIT_USAGE_ERROR = 4
EXIT_NO_TESTS_COLLECTED = 5
NO_TESTS_COLLECTED = "no tests were collected"
_CONFTEST_HEADER = "ImportError while loading conftest '"
_COLLECTING = "ERROR collecting "
_USAGE_PREFIX = "ERROR: "
_USAGE_LINE = "ERROR: usage:"  # argparse prints the cause on the next line
_SEPARATORS = ("===", "---", "!!!", "___")
_SHOWN = 3
_PART_CHARS = 300
_REASON_CHARS = 1200


@dataclass(frozen=True)
class EarlyStop:
    """A run that stopped before running any test: why (None when the output does not say), and how
    many collected nodes errored (JUnit XML lists those as errored cases)."""

    reason: str | None
    collection_errors: int = 0


@dataclass
class _Block:
    where: str
    collected: bool  # an "ERROR collecting" node (JUnit XML lists it); a root conftest is not one
    cause: str | None = None
    run_cause: str | None = None
    in_run: bool = False
    last_frame: str | None = None
    source_line: str | None = None  # a SyntaxError's 'File "...", line N'

    def feed(self, line: str) -> None:
        if line.startswith("E   "):
            if not self.in_run:
                self.in_run, self.run_cause, self.source_line = True, None, None
            text = line[4:]
            if self.run_cause is None and _is_exception_line(text):
                self.run_cause = text.strip()
                self.cause = self.run_cause + (f" (line {self.source_line})" if self.source_line else "")
            elif self.run_cause is None and self.source_line is None:
                self.source_line = _source_line(text)
            return
        self.in_run = False
        frame = _module_frame(line)
        if frame is not None:
            self.last_frame = frame

    def described(self) -> tuple[str, str | None]:
        """Return (where, cause); a "test session" error names the workspace module that raised."""
        if self.where == "test session" and self.last_frame:
            return self.last_frame, self.cause
        return self.where, self.cause


def no_test_reason(exit_code: int | None, output: str) -> EarlyStop | None:
    """Return why pytest ran no test, or None when its exit code says tests may have run."""
    if exit_code == EXIT_NO_TESTS_COLLECTED:
        return EarlyStop(NO_TESTS_COLLECTED)
    if exit_code not in (EXIT_INTERRUPTED, EXIT_USAGE_ERROR):
        return None
    blocks, usage = _scan(output[:SCAN_CHARS])
    collected = sum(1 for block in blocks if block.collected)
    if blocks:
        return EarlyStop(collection_reason([block.described() for block in blocks]), collected)
    if usage is not None:
        return EarlyStop(f"pytest usage error: {usage}")
    if exit_code == EXIT_USAGE_ERROR:
        return EarlyStop(None)
    return None  # interrupted for another reason (pytest.exit, a signal): tests may have run


def collection_error(where: str, traceback: str) -> tuple[str, str | None]:
    """Return (where, "Name: message") for a collection traceback (a JUnit `<error>` text).

    `where` "test session" (a conftest below the root) is replaced by the workspace module that raised.
    """
    block = _Block(where=where, collected=True)
    for line in traceback[:SCAN_CHARS].splitlines():
        block.feed(line)
    return block.described()


def _scan(text: str) -> tuple[list[_Block], str | None]:
    blocks: list[_Block] = []
    usage: str | None = None
    current: _Block | None = None
    after_usage_line = False
    for line in text.splitlines():
        header = _header(line)
        if header is not None:
            current = header
            blocks.append(current)
        elif line.startswith(_SEPARATORS):
            current = None
        elif current is not None:
            current.feed(line)
        elif usage is None:
            usage = _usage(line, after_usage_line)
            after_usage_line = line.startswith(_USAGE_LINE)
    return blocks, usage


def _header(line: str) -> _Block | None:
    if line.startswith(_CONFTEST_HEADER):
        path = line[len(_CONFTEST_HEADER) :].rstrip().removesuffix("'.")
        return _Block(where=_relative(path), collected=False)
    if line.startswith("_") and _COLLECTING in line:
        subject = line.strip("_ \t").removeprefix(_COLLECTING).strip()
        return _Block(where=_relative(subject), collected=True)
    return None


def _usage(line: str, after_usage_line: bool) -> str | None:
    """Return the cause on pytest's "ERROR: ..." line, or on argparse's line after "ERROR: usage: ..."."""
    if after_usage_line:
        _, marker, cause = line.partition(": error: ")
        return clip(cause.strip(), _PART_CHARS) if marker else None
    if line.startswith(_USAGE_PREFIX) and not line.startswith(_USAGE_LINE):
        return clip(line[len(_USAGE_PREFIX) :].strip(), _PART_CHARS)
    return None


def collection_reason(errors: list[tuple[str, str | None]]) -> str:
    """Return "collection error: WHERE: CAUSE" for one error, or a count and the first few for several."""
    parts = [_part(where, cause) for where, cause in errors[:_SHOWN]]
    if len(errors) == 1:
        return clip(f"collection error: {parts[0]}", _REASON_CHARS) or ""
    more = f"; and {len(errors) - _SHOWN} more" if len(errors) > _SHOWN else ""
    return clip(f"{len(errors)} collection errors: {'; '.join(parts)}{more}", _REASON_CHARS) or ""


def _part(where: str, cause: str | None) -> str:
    where = clip(where, _PART_CHARS) or "?"
    return f"{where}: {clip(cause, _PART_CHARS)}" if cause else where


def _is_exception_line(text: str) -> bool:
    """True for "ModuleNotFoundError: ..." or "pkg.CustomError: ...": a dotted name, then a colon."""
    if not text or text[0].isspace():
        return False
    name, colon, _ = text.partition(":")
    return bool(colon) and all(part.isidentifier() for part in name.split("."))


def _source_line(text: str) -> str | None:
    """Return N of a SyntaxError's '  File "path", line N' line."""
    if not text.lstrip().startswith('File "'):
        return None
    _, marker, number = text.rpartition('", line ')
    number = number.strip()
    return number if marker and number.isdigit() and len(number) < 10 else None


def _module_frame(line: str) -> str | None:
    """Return the path of a workspace frame line "tests/conftest.py:1: in <module>"."""
    if not line.endswith(": in <module>") or line.startswith(("/", "<", " ")):
        return None
    path, _, _ = line.partition(":")
    return path or None


def _relative(path: str) -> str:
    return path.removeprefix(WORKSPACE_DIR + "/")
