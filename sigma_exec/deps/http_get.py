"""Plain GETs from the operator's artifact sources (Go module proxy, gem source, Maven mirror), on the host.

urllib as it comes: the usual proxy variables (`https_proxy`, `no_proxy`, ...) and the system CA bundle apply,
and a `file://` source is read like any other. `user:password@` in a source's URL becomes a Basic authorization
header that is never sent on to a redirect's host. Every GET is bounded by one `Budget`, the bytes and seconds
one project's fetch may take, shared by its download threads.

A GET that does not bring the whole file raises one of (all are `OSError`, as urllib's own errors are)::

    GetError
     ├── NotFound      the source answered 404 / 410, or a file:// source lacks the file
     ├── HttpStatus    the source answered another HTTP error
     ├── Unreachable   the source could not be reached (name, connection, TLS)
     ├── OverSize      the file passed its cap, or the fetch its bytes
     └── OutOfTime     the fetch ran out of seconds

Each caller words these for its own source; a socket error while the body is read passes through unchanged.
"""

from __future__ import annotations

import base64
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import HTTPSHandler, Request, build_opener

CHUNK = 64 * 1024
USER_AGENT = "sigma-exec"
GONE = (404, 410)


class Budget:
    """The bytes and seconds one project's fetch may take, shared by its download threads."""

    def __init__(self, max_bytes: int, timeout_s: float) -> None:
        self.left = max_bytes
        self.max_bytes = max_bytes
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Count `size` more bytes; False once the fetch has taken more than `max_bytes` (and from then on)."""
        with self._lock:
            self.left -= size
            return self.left >= 0

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()


class GetError(OSError):
    """Root of the errors of a GET that did not bring the whole file."""


class NotFound(GetError):
    """Raised when the source answers 404 or 410, or a file:// source has no such file."""


class HttpStatus(GetError):
    """Raised when the source answers any other HTTP error; `status` is its code."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class Unreachable(GetError):
    """Raised when the source cannot be reached (name, connection, TLS, a time-out while connecting)."""


class OverSize(GetError):
    """Raised when a file passes its own cap or the budget's bytes."""

    def __init__(self) -> None:
        super().__init__("over the size limit (DEPS_MAX_MB)")


class OutOfTime(GetError):
    """Raised when the budget's deadline has passed; `before` is True when no request was made."""

    def __init__(self, *, before: bool) -> None:
        super().__init__("the fetch ran out of time (DEPS_FETCH_TIMEOUT)")
        self.before = before


def split_credentials(url: str) -> tuple[str, str]:
    """The source URL without user:password (nor a trailing slash), and the Basic authorization header they
    stand for ("" if none); raise ValueError unless it is an http(s) URL."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("must be an http:// or https:// URL with a valid port") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc += f":{port}" if port else ""
    auth = ""
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), auth


def download(
    url: str,
    dest: Path,
    budget: Budget,
    *,
    request_s: float,
    cap: int | None = None,
    auth: str = "",
    accept: str = "",
    cafile: str = "",
) -> None:
    """GET `url` into `dest` (opened once the source answers), at most `cap` bytes, each request at most
    `request_s` seconds; raise a GetError. `cafile` replaces the system CA bundle (e.g. pip's `cert`)."""
    with _answer(url, budget, request_s, auth, accept, cafile) as response, dest.open("wb") as out:
        _copy(response, out.write, budget, cap)


def get_bytes(
    url: str, budget: Budget, *, request_s: float, auth: str = "", accept: str = "", cafile: str = ""
) -> bytes:
    """GET `url` into memory, each request at most `request_s` seconds; raise a GetError."""
    data = bytearray()
    with _answer(url, budget, request_s, auth, accept, cafile) as response:
        _copy(response, data.extend, budget, None)
    return bytes(data)


@contextmanager
def _answer(
    url: str, budget: Budget, request_s: float, auth: str, accept: str, cafile: str = ""
) -> Iterator[IO[bytes]]:
    timeout = min(request_s, budget.seconds_left())
    if timeout <= 0:
        raise OutOfTime(before=True)
    request = Request(url, headers={"User-Agent": USER_AGENT, **({"Accept": accept} if accept else {})})
    if auth:
        request.add_unredirected_header("Authorization", auth)  # never sent on to a redirect's host
    try:
        handlers = [HTTPSHandler(context=ssl.create_default_context(cafile=cafile))] if cafile else []
        with build_opener(*handlers).open(request, timeout=timeout) as response:
            yield response
    except HTTPError as exc:
        raise (NotFound(f"HTTP {exc.code}") if exc.code in GONE else HttpStatus(exc.code)) from exc
    except URLError as exc:
        if isinstance(exc.reason, FileNotFoundError):  # a file:// source without the file
            raise NotFound("no such file") from exc
        raise Unreachable(str(exc.reason)) from exc


def _copy(response: IO[bytes], write: Callable[[bytes], object], budget: Budget, cap: int | None) -> None:
    size = 0
    while chunk := response.read(CHUNK):
        size += len(chunk)
        if (cap is not None and size > cap) or not budget.take(len(chunk)):
            raise OverSize()
        if budget.seconds_left() <= 0:
            raise OutOfTime(before=False)
        write(chunk)
