"""Source of the egress proxy that runs in its own hardened container (passed as `python3 -c`).

It forwards HTTP CONNECT tunnels and absolute-URI HTTP requests to `host:port` pairs matching the
allow-list in SIGMA_EGRESS_ALLOW (comma-separated fnmatch patterns) and answers 403 to anything else.
"""

from __future__ import annotations

PROXY_PORT = 3128

PROXY_SOURCE = r"""
import asyncio, fnmatch, os, sys
from urllib.parse import urlsplit

ALLOW = [a.strip() for a in os.environ.get("SIGMA_EGRESS_ALLOW", "").split(",") if a.strip()]
PORT = int(os.environ.get("SIGMA_EGRESS_PORT", "3128"))


def allowed(host, port):
    return any(fnmatch.fnmatchcase(f"{host.lower()}:{port}", pat.lower()) for pat in ALLOW)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()


async def refuse(writer, status):
    writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    writer.close()


async def handle(reader, writer):
    try:
        line = await asyncio.wait_for(reader.readline(), 10)
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers = []
        while len(headers) < 100:
            header = await asyncio.wait_for(reader.readline(), 10)
            if header in (b"\r\n", b"\n", b""):
                break
            headers.append(header)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            path = None
        else:
            url = urlsplit(target)
            host, port = url.hostname or "", url.port or 80
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        port = int(port)
        if not host or not allowed(host, port):
            print(f"refused {method} {host}:{port}", flush=True)
            return await refuse(writer, "403 Forbidden")
        up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        if path is None:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            kept = b"".join(h for h in headers if not h.lower().startswith(b"proxy-"))
            up_writer.write(f"{method} {path} HTTP/1.1\r\n".encode() + kept + b"\r\n")
        print(f"allowed {method} {host}:{port}", flush=True)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    except Exception as exc:
        try:
            await refuse(writer, "502 Bad Gateway")
        except Exception:
            pass


async def main():
    server = await asyncio.start_server(handle, "0.0.0.0", PORT, limit=65536)
    print(f"egress proxy on {PORT}, allow {ALLOW}", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""
