"""A fault-injecting HTTP proxy on 127.0.0.1, for testing clients of the collector.

It sits between a client and a real upstream server (e.g. a collector process)
and, for the next requests, answers with a chosen fault instead of (or after)
forwarding them. Every request it handles is recorded.

API::

    from faults import FaultProxy

    with FaultProxy("http://127.0.0.1:8470") as proxy:   # upstream URL
        client_url = proxy.url                          # "http://127.0.0.1:<port>": point the client here
        proxy.fail("500", times=2)      # the next 2 requests get a 500 problem document, not forwarded
        proxy.fail("429", retry_after=7)  # the next request gets 429 with "Retry-After: 7", not forwarded
        proxy.fail("hang")              # the next request is read and never answered (a client timeout);
                                        # the connection is held until the proxy stops or release() is called
        proxy.fail("reset")             # the next request is read, then the connection is reset (RST)
        proxy.fail("drop")              # the next request IS forwarded and the upstream's answer read, then
                                        # the client's connection is closed without it (the upstream has
                                        # committed; the client cannot know)
        proxy.release()                 # let hanging connections go (they are closed)
        proxy.pending()                 # faults still queued
        proxy.log                       # [Handled(method, path, fault, upstream_status)], in order;
                                        # fault is None for requests forwarded normally
        proxy.forwarded                 # how many requests reached the upstream

Faults queue in order (``fail`` appends ``times`` copies); once the queue is empty
requests pass through unchanged. Each exchange uses its own connections with
``Connection: close``, so clients reconnect for every request. Request bodies need a
``Content-Length`` (chunked request bodies are not supported). The proxy runs its
own asyncio loop on a thread; ``close()`` (or leaving the ``with``) stops it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

FAULTS = ("500", "429", "hang", "reset", "drop")


@dataclass(frozen=True)
class Handled:
    method: str
    path: str
    fault: str | None
    upstream_status: int | None  # when forwarded


class FaultProxy:
    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy only forwards to this machine")
        self.upstream = (parts.hostname, parts.port or 80)
        self.log: list[Handled] = []
        self._faults: deque[tuple[str, int]] = deque()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._hanging: set[asyncio.StreamWriter] = set()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    # -- control (any thread) ----------------------------------------------------------

    def fail(self, fault: str, times: int = 1, retry_after: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([(fault, retry_after)] * times)

    def pending(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def forwarded(self) -> int:
        return sum(1 for h in self.log if h.upstream_status is not None)

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._release_hanging)

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the loop ----------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve(ready))
        self._loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await self._stop.wait()
            self._release_hanging()
        # Connections still open are closed with the loop.

    def _release_hanging(self) -> None:
        for writer in list(self._hanging):
            writer.close()
        self._hanging.clear()

    def _next_fault(self) -> tuple[str | None, int]:
        with self._lock:
            return self._faults.popleft() if self._faults else (None, 0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                writer.close()
                return
            method, path, raw = request
            fault, retry_after = self._next_fault()
            if fault in ("500", "429"):
                self.log.append(Handled(method, path, fault, None))
                status, title = (500, "Internal Server Error") if fault == "500" else (429, "Too Many Requests")
                extra = f"Retry-After: {retry_after}\r\n" if fault == "429" else ""
                writer.write(_response(status, title, extra))
                await writer.drain()
                writer.close()
            elif fault == "hang":
                self.log.append(Handled(method, path, fault, None))
                self._hanging.add(writer)
            elif fault == "reset":
                self.log.append(Handled(method, path, fault, None))
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
            else:
                answer = await self._forward(raw)
                self.log.append(Handled(method, path, fault, _status(answer)))
                if fault != "drop":
                    writer.write(answer)
                    await writer.drain()
                writer.close()
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()

    async def _forward(self, raw: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(*self.upstream)
        try:
            writer.write(raw)
            await writer.drain()
            return await reader.read()  # until the upstream closes (Connection: close)
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    """One request, re-headed with ``Connection: close``; None if the client went away."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = [line for line in lines[1:] if line and not line.lower().startswith(("connection:", "keep-alive:"))]
    length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0)
    body = await reader.readexactly(length) if length else b""
    raw = "\r\n".join([lines[0], *headers, "Connection: close", "", ""]).encode("latin-1") + body
    return method, path, raw


def _response(status: int, title: str, extra_headers: str = "") -> bytes:
    body = json.dumps({"type": "about:blank", "title": title, "status": status,
                       "detail": "injected by the test proxy"}).encode()
    return (f"HTTP/1.1 {status} {title}\r\nContent-Type: application/problem+json\r\n{extra_headers}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def _status(answer: bytes) -> int:
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0
