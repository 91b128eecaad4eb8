"""A real HTTP/1.1 server on loopback that plays an upstream service in tests and demos.

It reads Content-Length and chunked bodies, answers every request with ``status`` after
``delay`` seconds (on the given clock) and an echo line (or ``body``), serves
``/health`` with 200 or 503 by ``healthy``, keeps connections alive, and counts requests.
``stop()`` closes the listener *and* every open connection, as a crashed process would;
``start()`` again listens on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib

from meshkit.clock import SYSTEM_CLOCK, Clock

__all__ = ["FakeUpstream"]

_MAX_HEADER = 64 * 1024
_REASONS = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Unavailable"}


class FakeUpstream:
    """One upstream instance; see the module docstring."""

    def __init__(
        self, name: str, *, host: str = "127.0.0.1", port: int = 0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.status = 200
        self.delay = 0.0
        self.healthy = True
        self.retry_after: str | None = None
        self.body: bytes | None = None  # answer with these bytes instead of the echo line
        self.last_headers: dict[str, str] = {}
        self.requests = 0
        self.health_checks = 0
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> FakeUpstream:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._connections):
            writer.close()
        await server.wait_closed()

    async def __aenter__(self) -> FakeUpstream:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > _MAX_HEADER:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                received = await _read_body(reader, headers)
                self.last_headers = headers
                status, body, extra = await self._answer(method, path, received)
                reason = _REASONS.get(status, "Status")
                response = (
                    f"HTTP/1.1 {status} {reason}\r\ncontent-length: {len(body)}\r\n"
                    f"content-type: text/plain\r\n{extra}\r\n"
                ).encode() + body
                writer.write(response)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            self._connections.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, method: str, path: str, received: int) -> tuple[int, bytes, str]:
        if path == "/health":
            self.health_checks += 1
            return (200 if self.healthy else 503), b"ok" if self.healthy else b"down", ""
        self.requests += 1
        if self.delay > 0:
            await self._clock.sleep(self.delay)
        extra = f"retry-after: {self.retry_after}\r\n" if self.retry_after else ""
        if self.body is not None:
            return self.status, self.body, extra
        text = f"{self.name} {method} {path}" + (f" body={received}" if received else "")
        return self.status, text.encode(), extra

    def __repr__(self) -> str:
        return f"FakeUpstream({self.name!r}, port={self.port}, running={self.running})"


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> int:
    """Read (and count) a Content-Length or chunked request body."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers: the empty line
                return total
            await reader.readexactly(size + 2)
            total += size
    length = int(headers.get("content-length", "0") or 0)
    if length:
        await reader.readexactly(length)
    return length
