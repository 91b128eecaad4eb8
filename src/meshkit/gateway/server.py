"""The listening side: one asyncio protocol per client connection, llhttp parsing, limits.

Theory of operation
-------------------
``data_received`` feeds llhttp; its callbacks build a :class:`RequestHead` while enforcing
the size limits as bytes arrive (414 request line, 431 header line / total / count), then
:func:`check_head` validates framing and the body limit (413). Each request becomes an
exchange — head plus a :class:`BodyStream` that pauses the client socket when the upstream
reads slower than the client sends — handled by one task per connection, in order. After a
message is complete reading goes on, so a client that hangs up is noticed at once and its
request cancelled; pipelined requests queue in order, at most a few before reading pauses.

Deadlines: a head deadline (``header_timeout``) from the first byte of a request (or from
the connection's start) answers 408 and closes; an idle deadline (``idle_timeout``) closes a
keep-alive connection that sends nothing. A connection only notes its deadline; one sweep per
server, every 0.1 s, enforces them all (no timer is made or cancelled per request). A client
that disconnects cancels its handler task, which cancels the upstream call. Any error the
gateway answers itself closes the connection when the request's framing can no longer be
trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import httptools

from meshkit.clock import SYSTEM_CLOCK, Clock, TimerHandle
from meshkit.gateway.body import BodyStream
from meshkit.gateway.http1 import HttpError, RequestHead, check_head, response_head_bytes
from meshkit.gateway.limits import DEFAULT_LIMITS, GatewayLimits

__all__ = ["ClientConnection", "Exchange", "GatewayServer", "Handler"]

_log = logging.getLogger("meshkit.gateway")

# Pipelined requests parsed ahead of their turn. Reading goes on while a request is handled
# (so a client that hangs up is noticed at once and its upstream call cancelled) until this
# many wait.
_MAX_PIPELINED = 8

_NO_DEADLINE, _HEAD_DEADLINE, _IDLE_DEADLINE = 0, 1, 2
_SWEEP_INTERVAL = 0.1  # how often the server looks for connections past their deadline


class Exchange:
    """One request on a client connection, as the handler sees it."""

    __slots__ = ("body", "client", "head", "peer", "response_started")

    def __init__(self, head: RequestHead, body: BodyStream, client: ClientConnection) -> None:
        self.head = head
        self.body = body
        self.client = client
        self.peer = client.peer
        self.response_started = False


Handler = Callable[[Exchange], Awaitable[None]]


class ClientConnection(asyncio.Protocol):
    """One client connection; see the module docstring."""

    def __init__(self, server: GatewayServer) -> None:
        self._server = server
        self._limits = server.limits
        self._clock = server.clock
        self.transport: Any = None
        self.peer = ""
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[Exchange] = deque()
        self._task: asyncio.Task[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._wake: asyncio.Future[None] | None = None
        # One deadline at a time, checked by the server's sweep (no timer per request).
        self.deadline = 0.0
        self.deadline_kind = _NO_DEADLINE
        self.closed = False
        self._busy = False
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body: BodyStream | None = None
        self._body_bytes = 0

    # -- asyncio protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self._server.connections.add(self)
        self._expect(_HEAD_DEADLINE, self._limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._parser.feed_data(data)
        except HttpError as exc:
            self.fail(exc.status, exc.reason)
        except httptools.HttpParserCallbackError as exc:
            # llhttp wraps what a callback raised; our refusals say what to answer.
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, HttpError):
                self.fail(cause.status, cause.reason)
            else:
                _log.error("request parser callback failed: %r", cause)
                self.fail(500, "internal error")
        except httptools.HttpParserUpgrade:
            self.fail(501, "protocol upgrades are not supported yet")
        except httptools.HttpParserError as exc:
            self.fail(400, f"malformed request: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        self.deadline_kind = _NO_DEADLINE
        self._server.connections.discard(self)
        gone = ConnectionResetError("the client closed the connection")
        for exchange in self._queue:
            exchange.body.fail(gone)
        if self._body is not None:
            self._body.fail(gone)
        if self._task is not None and not self._task.done():
            self._task.cancel()  # cancels the upstream call too

    def eof_received(self) -> bool | None:
        return None  # a client that stops sending has given up: close, cancelling its request

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- llhttp callbacks (raising HttpError aborts the parse) --------------------------------
    def on_message_begin(self) -> None:
        self._reset_head()
        if not self.idle:
            return  # a pipelined request: its deadline starts when the previous one is done
        self._expect(_HEAD_DEADLINE, self._limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_request_line:
            raise HttpError(414, "request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        # Names are kept lowercase (they are case-insensitive; HTTP/2 and most proxies send
        # them so), which spares a .lower() at every later lookup.
        name = name.lower()
        limits = self._limits
        size = len(name) + len(value) + 4
        self._header_bytes += size
        if size > limits.max_header_line:
            raise HttpError(431, "header line too long")
        if self._header_bytes > limits.max_headers_size:
            raise HttpError(431, "headers too large")
        if len(self._headers) >= limits.max_headers:
            raise HttpError(431, "too many headers")
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        head = RequestHead(
            method=parser.get_method(),
            target=self._url,
            version=parser.get_http_version(),
            headers=self._headers,
            keep_alive=parser.should_keep_alive(),
        )
        check_head(head)
        if head.content_length is not None and head.content_length > self._limits.max_body:
            raise HttpError(413, "request body too large")
        self.deadline_kind = _NO_DEADLINE
        body = BodyStream(self.transport.pause_reading, self.transport.resume_reading)
        if not head.has_body:
            body.finish()
        elif head.expect_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._body = body
        self._body_bytes = 0
        self._queue.append(Exchange(head, body, self))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._serve())
        elif self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def on_body(self, chunk: bytes) -> None:
        self._body_bytes += len(chunk)
        if self._body_bytes > self._limits.max_body:
            raise HttpError(413, "request body too large")
        if self._body is not None:
            self._body.feed(chunk)

    def on_message_complete(self) -> None:
        if self._body is not None:
            self._body.finish()
            self._body = None
        if len(self._queue) >= _MAX_PIPELINED:
            self.transport.pause_reading()  # enough requests wait; the handler resumes us

    @property
    def idle(self) -> bool:
        """No request queued or being handled."""
        return not self._queue and not self._busy

    # -- writing (for the handler) -----------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    async def drain(self) -> None:
        if not self._writable.is_set():
            await self._writable.wait()
        if self.closed:
            raise ConnectionResetError("the client closed the connection")

    def fail(self, status: int, reason: str) -> None:
        """Answer an unparseable or refused request and close: its framing is not trusted."""
        if self.closed:
            return
        body = b'{"error": "%s"}' % reason.encode("ascii", "replace")
        self.transport.write(
            response_head_bytes(
                status,
                [(b"content-type", b"application/json")],
                content_length=len(body),
                keep_alive=False,
            )
            + body
        )
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.deadline_kind = _NO_DEADLINE
            self.transport.close()
            if self._wake is not None and not self._wake.done():
                self._wake.set_result(None)

    # -- internals ---------------------------------------------------------------------------
    async def _serve(self) -> None:
        """The connection's one task: handle queued requests in order, then wait for more."""
        handler = self._server.handler
        loop = asyncio.get_running_loop()
        while not self.closed:
            if not self._queue:
                self._expect(_IDLE_DEADLINE, self._limits.idle_timeout)
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
                continue
            exchange = self._queue.popleft()
            self._busy = True
            self._server.in_flight += 1
            try:
                await handler(exchange)
            except asyncio.CancelledError:
                raise
            except Exception:  # the handler answers errors itself; this is a last resort
                _log.exception("request handler failed")
                if not exchange.response_started:
                    self.fail(500, "internal error")
                else:
                    self.close()
            finally:
                self._busy = False
                self._server.in_flight -= 1
            if not exchange.head.keep_alive or self._server.draining:
                self.close()
            elif not exchange.body.done:
                self.close()  # the handler did not read the whole body: framing is lost
            elif len(self._queue) < _MAX_PIPELINED:
                self.transport.resume_reading()

    def _reset_head(self) -> None:
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._body = None
        self._body_bytes = 0

    def _expect(self, kind: int, seconds: float) -> None:
        self.deadline = self._clock.monotonic() + seconds
        self.deadline_kind = kind

    def expired(self) -> None:
        """The server's sweep found this connection's deadline passed."""
        kind, self.deadline_kind = self.deadline_kind, _NO_DEADLINE
        if kind == _HEAD_DEADLINE:
            self.fail(408, "request head not received in time")
        elif kind == _IDLE_DEADLINE:
            self.close()


class GatewayServer:
    """Listen on ``host:port`` and hand each request to ``handler``."""

    def __init__(
        self,
        handler: Handler,
        *,
        limits: GatewayLimits = DEFAULT_LIMITS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.clock = clock
        self.connections: set[ClientConnection] = set()
        self.in_flight = 0
        self.draining = False
        self._server: asyncio.Server | None = None
        self._sweeper: TimerHandle | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, reuse_port: bool = False
    ) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientConnection(self), host, port, reuse_port=reuse_port or None
        )
        self._sweep()

    def _sweep(self) -> None:
        """Close connections past their head or idle deadline; runs every 0.1 s."""
        now = self.clock.monotonic()
        for connection in [c for c in self.connections if c.deadline_kind and c.deadline <= now]:
            connection.expired()
        self._sweeper = self.clock.call_later(_SWEEP_INTERVAL, self._sweep)

    async def stop(self, deadline: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish for up to ``deadline`` seconds, then
        close every connection."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            if connection.idle:
                connection.close()  # idle keep-alive connections go at once
        waited = 0.0
        while self.in_flight and waited < deadline:
            await self.clock.sleep(0.01)
            waited += 0.01
        for connection in list(self.connections):
            connection.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
