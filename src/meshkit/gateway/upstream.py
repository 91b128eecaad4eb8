"""Connections to upstream endpoints, driven by callbacks, pooled per endpoint.

An :class:`UpstreamConnection` is an asyncio protocol around llhttp's response parser that
reports each response to its current *sink* (the request's exchange) as it arrives: head,
body chunks, end — or failure. Nothing waits on a future per request: the proxy's hot path is
callbacks from the socket to the sink and back, as in a bare forwarder.

An :class:`EndpointPool` keeps idle keep-alive connections per endpoint of a service (last
in, first out, so a few warm connections serve a light load), at most ``max_idle`` idle and
``max_total`` in all (beyond: ``BulkheadFull``, a 503 that does not count against the
endpoint), each idle at most ``idle_timeout`` seconds. A connection is reused only if its response
was complete and both sides allowed keep-alive; a malformed or truncated response discards
it. A reused connection found closed before any response byte arrives is reported as
*stale*, so the exchange may resend the request on a fresh connection.

A response head may hold at most 64 KiB, counted as bytes arrive (llhttp keeps a line until
it ends, so a head that never ends is cut off after one read past the limit, not at the
route's timeout). A response with neither a length nor chunked framing ends where the
upstream closes the connection (RFC 9112 §6.3): that close, if clean, completes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, cast

import httptools
from mypy_extensions import trait

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import BulkheadFull, ConnectFailed, UpstreamError, UpstreamTimeout
from meshkit.gateway.response_head import ResponseHead, watched_name
from meshkit.gateway.tunnel import Tunnel

__all__ = ["BadUpstreamResponse", "EndpointPool", "ResponseSink", "UpstreamConnection"]


_MAX_RESPONSE_HEAD: Final = 64 * 1024  # as Envoy's default limit on response headers


class BadUpstreamResponse(UpstreamError):
    """The upstream's answer was malformed, truncated, or cut off."""


@trait
class ResponseSink:
    """What an upstream connection reports to (the exchange it serves). A trait, for the
    reason :class:`~meshkit.gateway.connection.RequestSink` is one."""

    def response_head(self, head: ResponseHead) -> None:
        raise NotImplementedError

    def response_body(self, chunk: bytes) -> None:
        raise NotImplementedError

    def response_end(self, keep_alive: bool) -> None:
        raise NotImplementedError

    def upstream_failed(self, error: UpstreamError, *, stale: bool) -> None:
        raise NotImplementedError

    def upstream_writable(self, writable: bool) -> None:
        raise NotImplementedError


class UpstreamConnection:
    """One connection to an upstream; see the module docstring. An asyncio protocol by its
    methods, not by inheritance, for the same reason as
    :class:`~meshkit.gateway.connection.ClientConnection`."""

    def __init__(self) -> None:
        self.transport: Any = None
        self._write: Any = None  # transport.write, looked up once
        self._parser = httptools.HttpResponseParser(self)
        # The response head as it arrives (see response_head): the end-to-end lines, ready
        # to relay, and the fields the gateway acts on.
        self._kept: list[bytes] = []
        self._watched: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._status = 0
        self._keep_alive = False
        self.sink: ResponseSink | None = None
        self.closed = False
        self.complete = False
        self.received_any = False
        self.writable = True
        self.idle_since = 0.0
        self.exchanges = 0
        self._head_only = False
        self._interim = False
        self._awaiting_head = False  # bytes still belong to a response head
        self._head_seen = 0  # bytes received for it so far
        self._until_close = False  # the body ends where the upstream closes
        self.switched = False  # after a 101 answer: raw bytes both ways, never pooled again
        self.tunnel: Tunnel | None = None  # where those go (set when the exchange agrees)

    # -- asyncio protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._write = self.transport.write

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        if self.switched:
            if self.tunnel is not None and self.sink is not None:
                self.tunnel.from_upstream(data)
            return
        if self.sink is None:
            self.close()  # spoke while idle: nothing it says next can be framed with trust
            return
        try:
            self._parser.feed_data(data)
            if self._awaiting_head:
                self._head_seen += len(data)
                if self._head_seen > _MAX_RESPONSE_HEAD:
                    raise BadUpstreamResponse("upstream response head too large")
        except BadUpstreamResponse as refused:  # (one name per type: mypyc types it once)
            self._fail(refused, stale=False)
        except httptools.HttpParserUpgrade as switched:
            self._switched(data[switched.args[0] :])
        except httptools.HttpParserError as malformed:
            self._fail(
                BadUpstreamResponse(f"malformed upstream response: {malformed}"), stale=False
            )

    def _switched(self, rest: bytes) -> None:
        """A 101 answer ended the HTTP part: the rest is the tunnel's. (A method of its own:
        the exchange may have refused the switch and let go of us, and in the caller mypy
        would still take ``self.sink`` for set — which a compiled build checks.)"""
        self.switched = True
        tunnel = self.tunnel
        if rest and tunnel is not None and self.sink is not None:
            tunnel.from_upstream(rest)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.sink is None or self.complete:
            return
        if self._until_close and exc is None:
            self._keep_alive = False
            self._end()  # the close that delimits the body: complete, not cut
            return
        stale = not self.received_any and self.exchanges > 1
        self._fail(BadUpstreamResponse("the upstream closed the connection"), stale=stale)

    def eof_received(self) -> bool | None:
        return None  # the upstream stopped sending: close (connection_lost tells the sink)

    def pause_writing(self) -> None:
        self.writable = False
        if self.sink is not None:
            self.sink.upstream_writable(False)

    def resume_writing(self) -> None:
        self.writable = True
        if self.sink is not None:
            self.sink.upstream_writable(True)

    # -- llhttp callbacks (raising aborts the parse: the response counts as malformed) -----
    # (no on_message_begin: the head's state is reset as each head completes — a pooled
    # connection's last response did — one callback less per response)
    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > _MAX_RESPONSE_HEAD:
            raise BadUpstreamResponse("upstream response head too large")
        watched = watched_name(name)
        if watched is not None:
            self._watched.append((watched, value))
            if watched != b"retry-after":  # the one end-to-end field the gateway reads
                return
        kept = self._kept
        kept.append(name)
        kept.append(b": ")
        kept.append(value)
        kept.append(b"\r\n")

    def on_headers_complete(self) -> None:
        parser = self._parser
        # read once: on_message_complete and _end use them (llhttp knows both by now)
        self._status = status = parser.get_status_code()
        self._keep_alive = parser.should_keep_alive()
        self._interim = 100 <= status < 200 and status != 101
        kept, watched = self._kept, self._watched
        self._reset_head()
        self._awaiting_head = self._interim
        self._head_seen = 0
        if self._interim or self.sink is None:
            return  # an interim answer (e.g. 100 Continue): the final one follows
        head = ResponseHead(status, kept, watched, self._keep_alive)
        self._until_close = (
            head.content_length is None
            and not head.chunked
            and not self._head_only
            and status not in (101, 204, 304)  # (after a 101, a close ends the tunnel)
        )
        self.sink.response_head(head)
        if self._head_only and self.sink is not None:
            self._end()  # a HEAD answer has no body, whatever its Content-Length says

    def on_body(self, chunk: bytes) -> None:
        if self.sink is not None:
            self.sink.response_body(chunk)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._status == 101:
            return  # the start of a tunnel, not the end of an exchange
        if self.sink is not None and not self._head_only:
            self._end()

    # -- the exchange's side -----------------------------------------------------------------
    def begin(self, sink: ResponseSink, *, head_only: bool = False) -> None:
        """Serve ``sink`` next (``head_only``: a HEAD request, whose answer has no body)."""
        self.sink = sink
        self.exchanges += 1
        self.complete = False
        self.received_any = False
        self._awaiting_head = True
        self._head_seen = 0
        self._until_close = False
        self._head_only = head_only
        if head_only:
            self._parser = httptools.HttpResponseParser(self)  # llhttp must not wait for a body

    def _reset_head(self) -> None:
        self._kept = []
        self._watched = []
        self._head_size = 0

    def write(self, data: bytes) -> None:
        if not self.closed:
            self._write(data)

    def close(self) -> None:
        self.sink = None
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def _end(self) -> None:
        sink, self.sink = self.sink, None
        self.complete = True
        keep_alive = self._keep_alive and not self._head_only
        if sink is not None:
            sink.response_end(keep_alive)

    def _fail(self, error: UpstreamError, *, stale: bool) -> None:
        sink, self.sink = self.sink, None
        self.close()
        if sink is not None:
            sink.upstream_failed(error, stale=stale)


def _new_connection() -> asyncio.Protocol:
    return cast(asyncio.Protocol, UpstreamConnection())


class EndpointPool:
    """Keep-alive connections to one ``host:port``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        service: str = "",
        max_idle: int = 64,
        max_total: int = 1024,
        connect_timeout: float = 2.0,
        idle_timeout: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
        now: Callable[[], float] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.service = service
        self.max_idle = max_idle
        self.max_total = max_total
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._clock = clock
        # Idle expiry needs no precision: a coarse time (the server's, refreshed every 0.1 s)
        # spares two clock reads per request.
        self._now = now if now is not None else clock.monotonic
        # last in, first out: a list (its append and pop compile to direct calls)
        self._idle: list[UpstreamConnection] = []
        self.total = 0
        self.connects = 0
        self.reuses = 0

    def take_idle(self) -> UpstreamConnection | None:
        """A live idle connection, or ``None`` (then :meth:`open` one)."""
        now = self._now()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_timeout:
                self.reuses += 1
                return conn
            self._discard(conn)
        return None

    async def open(self) -> UpstreamConnection:
        if self.total >= self.max_total:
            raise BulkheadFull(
                f"{self.service} {self.host}:{self.port}: all {self.max_total} connections in use",
                retry_after=1.0,
                policy="upstream_pool",
            )
        self.total += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, protocol = await loop.create_connection(_new_connection, self.host, self.port)
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
        return cast(UpstreamConnection, protocol)

    def release(self, conn: UpstreamConnection, *, reusable: bool) -> None:
        if reusable and not conn.closed and conn.complete and len(self._idle) < self.max_idle:
            conn.sink = None
            conn.idle_since = self._now()
            self._idle.append(conn)
        else:
            self._discard(conn)

    def _discard(self, conn: UpstreamConnection) -> None:
        conn.close()
        self.total -= 1

    @property
    def idle(self) -> int:
        return len(self._idle)

    def close(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())

    def __repr__(self) -> str:
        return f"EndpointPool({self.host}:{self.port}, total={self.total}, idle={len(self._idle)})"
