"""A package source on loopback for the dependency-fetching tests: an HTTP server on 127.0.0.1 (a free port) that
runs in a thread for the length of a `with`, and remembers the path and headers of every GET it was sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

# What a source answers a GET with: status, headers, body.
Answer = tuple[int, dict[str, str], bytes]
NOT_FOUND: Answer = (404, {}, b"")


class LoopbackSource:
    """Answers each GET with `answer(path)`; `serving()` runs it on 127.0.0.1 and sets `url`."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.url = ""

    def answer(self, path: str) -> Answer:
        raise NotImplementedError

    @contextmanager
    def serving(self) -> Iterator[Self]:
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                source.requests.append(self.path)
                source.headers.append(dict(self.headers))
                status, headers, body = source.answer(self.path)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


class FolderSource(LoopbackSource):
    """The files under `root`, served at their relative paths (a module proxy's or a Maven repository's layout)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def answer(self, path: str) -> Answer:
        file = (self.root / unquote(urlsplit(path).path).lstrip("/")).resolve()
        inside = file.is_relative_to(self.root.resolve())
        return (200, {}, file.read_bytes()) if inside and file.is_file() else NOT_FOUND
