"""Connections to upstream endpoints: one HTTP/1.1 exchange at a time, pooled per endpoint.

An :class:`UpstreamConnection` is an asyncio protocol around llhttp's response parser. The
proxy writes a request (head, then body chunks, awaiting :meth:`drain` for back-pressure),
awaits :meth:`response` for the head, then reads the body from a :class:`BodyStream` that
pauses the upstream socket when the client is slower than the upstream.

An :class:`EndpointPool` keeps idle keep-alive connections per endpoint (last in, first out,
so a few warm connections serve a light load), at most ``max_idle`` idle and ``max_total`` in
all, each idle at most ``idle_timeout`` seconds. A connection is reused only if its response
was complete and both sides allowed keep-alive; a malformed or truncated response discards
it. A reused connection found closed before any response byte arrives is reported as
:class:`StaleConnection`, which the proxy may retry on a fresh connection.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import httptools

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import ConnectFailed, UpstreamError, UpstreamTimeout
from meshkit.gateway.body import BodyStream
from meshkit.gateway.http1 import ResponseHead

__all__ = ["BadUpstreamResponse", "EndpointPool", "StaleConnection", "UpstreamConnection"]


class BadUpstreamResponse(UpstreamError):
    """The upstream's answer was malformed, truncated, or cut off."""


class StaleConnection(BadUpstreamResponse):
    """A reused keep-alive connection was closed by the upstream before it answered."""


class UpstreamConnection(asyncio.Protocol):
    """One connection to an upstream; see the module docstring."""

    def __init__(self, pool: EndpointPool) -> None:
        self._pool = pool
        self.transport: Any = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[bytes, bytes]] = []
        self._head: asyncio.Future[ResponseHead] | None = None
        self._body: BodyStream | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self.closed = False
        self.complete = False
        self.received_any = False
        self.idle_since = 0.0
        self.exchanges = 0

    # -- asyncio protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._broken(BadUpstreamResponse(f"malformed upstream response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        if self.complete or (self._head is None and self._body is None):
            return
        if not self.received_any and self.exchanges > 1:
            self._broken(StaleConnection("the reused upstream connection was closed"))
        else:
            self._broken(BadUpstreamResponse("the upstream closed the connection mid-response"))

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- llhttp callbacks --------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            self._headers = []  # an interim answer (e.g. 100 Continue): wait for the final
            return
        length: int | None = None
        chunked = False
        for lower, value in self._headers:
            if lower == b"content-length":
                length = int(value)
            elif lower == b"transfer-encoding":
                chunked = True
        head = ResponseHead(
            status=status,
            reason=b"",
            version=self._parser.get_http_version(),
            headers=self._headers,
            content_length=length,
            chunked=chunked,
            keep_alive=self._parser.should_keep_alive(),
        )
        if self._head is not None and not self._head.done():
            self._head.set_result(head)

    def on_body(self, chunk: bytes) -> None:
        if self._body is not None:
            self._body.feed(chunk)

    def on_message_complete(self) -> None:
        if self._head is not None and not self._head.done():
            return  # the end of an interim 1xx message
        self.complete = True
        if self._body is not None:
            self._body.finish()

    # -- the proxy's side --------------------------------------------------------------------
    def begin(self, *, head_only: bool = False) -> None:
        """Start an exchange (``head_only``: a HEAD request, whose answer has no body)."""
        self.exchanges += 1
        self.complete = False
        self.received_any = False
        self._headers = []
        self._head = asyncio.get_running_loop().create_future()
        self._body = BodyStream(self.transport.pause_reading, self.transport.resume_reading)
        if head_only:
            self._parser = httptools.HttpResponseParser(self)  # llhttp must not wait for a body

    def write(self, data: bytes) -> None:
        if self.closed:
            raise BadUpstreamResponse("the upstream connection is closed")
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the upstream socket's send buffer is full."""
        if not self._writable.is_set():
            await self._writable.wait()

    async def response(self) -> ResponseHead:
        assert self._head is not None
        return await self._head

    @property
    def body(self) -> BodyStream:
        assert self._body is not None
        return self._body

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def _broken(self, error: UpstreamError) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        elif self._body is not None and not self._body.done:
            self._body.fail(error)
        self.close()


class EndpointPool:
    """Keep-alive connections to one ``host:port``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_idle: int = 32,
        max_total: int = 1024,
        connect_timeout: float = 2.0,
        idle_timeout: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self.max_total = max_total
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._idle: deque[UpstreamConnection] = deque()
        self.total = 0
        self.connects = 0
        self.reuses = 0

    async def acquire(self) -> UpstreamConnection:
        now = self._clock.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_timeout:
                self.reuses += 1
                return conn
            self._discard(conn)
        if self.total >= self.max_total:
            raise ConnectFailed(f"{self.host}:{self.port}: {self.max_total} connections in use")
        self.total += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: UpstreamConnection(self), self.host, self.port
                )
        except TimeoutError:
            self.total -= 1
            raise UpstreamTimeout(f"connecting to {self.host}:{self.port} timed out") from None
        except OSError as exc:
            self.total -= 1
            raise ConnectFailed(f"{self.host}:{self.port}: {exc.strerror or exc}") from exc
        except BaseException:
            self.total -= 1
            raise
        self.connects += 1
        return protocol

    def release(self, conn: UpstreamConnection, *, reusable: bool) -> None:
        if reusable and not conn.closed and conn.complete and len(self._idle) < self.max_idle:
            conn.idle_since = self._clock.monotonic()
            self._idle.append(conn)
        else:
            self._discard(conn)

    def _discard(self, conn: UpstreamConnection) -> None:
        conn.close()
        self.total -= 1

    def close(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())

    def __repr__(self) -> str:
        return f"EndpointPool({self.host}:{self.port}, total={self.total}, idle={len(self._idle)})"
