"""A client connection: one asyncio protocol each, llhttp parsing, limits, deadlines.

Theory of operation
-------------------
``data_received`` feeds llhttp; its callbacks build a :class:`RequestHead` while enforcing
the size limits as bytes arrive (414 request line, 431 header line / total / count), then
:func:`check_head` validates framing and the body limit (413). Each request is handed to the
server's handler, which returns a :class:`RequestSink`; the body's chunks go to the sink as
they arrive and the sink writes the response back through :meth:`ClientConnection.write`,
then calls :meth:`ClientConnection.finished`. There is no task or future per request: the
whole path is callbacks, as in a bare forwarder. Back-pressure runs both ways: a sink pauses
this connection's reading (:meth:`pause_reading`) and hears when the client's socket is
writable again (:meth:`RequestSink.client_writable`).

Reading goes on while a request is handled, so a client that hangs up is noticed at once and
its request aborted (the upstream call with it). Pipelined requests queue in order, their
bodies buffered, at most a few before reading pauses.

Deadlines: a head deadline (``header_timeout``) from the first byte of a request (or from
the connection's start) answers 408 and closes; so does a body that stalls for
``body_timeout``; an idle deadline (``idle_timeout``) closes a keep-alive connection that
sends nothing. A connection only notes its deadline; one sweep per server
(:mod:`~meshkit.gateway.listener`), every 0.1 s, enforces them all (no timer is made or
cancelled per request). Any error the gateway answers itself closes the connection when
the request's framing can no longer be trusted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import httptools
from mypy_extensions import trait

from meshkit.gateway.http1 import HttpError, RequestHead, check_head, response_head_bytes

if TYPE_CHECKING:
    from meshkit.gateway.listener import GatewayServer

__all__ = ["ClientConnection", "Handler", "RequestSink"]

_log = logging.getLogger("meshkit.gateway")

_MAX_PIPELINED: Final = 8  # requests parsed ahead of their turn before reading pauses
_NO_DEADLINE, _HEAD_DEADLINE, _IDLE_DEADLINE, _BODY_DEADLINE = 0, 1, 2, 3


@trait
class RequestSink:
    """The handler's side of one request. (A trait rather than a protocol: a compiled build
    calls its methods directly, where a protocol's would be looked up by name each time.)"""

    def start(self) -> None:
        """Begin handling (may answer at once, e.g. with 404)."""
        raise NotImplementedError

    def body(self, chunk: bytes) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """The client went away: drop everything for this request."""
        raise NotImplementedError

    def client_writable(self, writable: bool) -> None:
        raise NotImplementedError

    def tunnel_from_client(self, data: bytes) -> None:
        """Raw bytes after an upgrade request: relay them to the upstream."""
        raise NotImplementedError


Handler = Callable[[RequestHead, "ClientConnection"], RequestSink]


class _Queued(RequestSink):
    """A pipelined request waiting for its turn: its head and the body so far (only
    ``body`` and ``end`` are ever asked of it)."""

    __slots__ = ("chunks", "ended", "head")

    def __init__(self, head: RequestHead) -> None:
        self.head = head
        self.chunks: list[bytes] = []
        self.ended = False

    def body(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def end(self) -> None:
        self.ended = True


class ClientConnection:
    """One client connection; see the module docstring.

    An asyncio protocol by its methods, not by inheritance: a class of its own compiles to
    a native class (attributes in slots, direct method calls), which is what makes the
    compiled data path fast.
    """

    def __init__(self, server: GatewayServer) -> None:
        self._server = server
        self._limits = server.limits
        self.transport: Any = None
        self._write: Any = None  # transport.write, looked up once
        self._reading_paused = False
        self.peer = ""
        self.peer_bytes = b""  # the same, encoded once (forwarding headers, hashing keys)
        self._parser = httptools.HttpRequestParser(self)
        self._active: RequestSink | None = None
        self._parsing: RequestSink | None = None
        self._queue: deque[_Queued] = deque()
        self._tunnel: RequestSink | None = None
        self.request_complete = False  # the active request's body has been read to its end
        self._active_has_body = False
        self._finish_pending = False
        self.writable = True
        # One deadline at a time, checked by the server's sweep (no timer per request).
        self.deadline = 0.0
        self.deadline_kind = _NO_DEADLINE
        self.closed = False
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body_bytes = 0

    # -- asyncio protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._write = self.transport.write
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.peer_bytes = self.peer.encode()
        self._server.connections.add(self)
        self._expect(_HEAD_DEADLINE, self._limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self._tunnel is not None:
            self._tunnel.tunnel_from_client(data)
            return
        try:
            self._parser.feed_data(data)
        except HttpError as exc:
            self.fail(exc.status, exc.reason)
        except httptools.HttpParserCallbackError as wrapped:
            # llhttp wraps what a callback raised; our refusals say what to answer.
            cause = wrapped.__cause__ or wrapped.__context__
            if isinstance(cause, HttpError):
                self.fail(cause.status, cause.reason)
            else:
                _log.error("request parser callback failed: %r", cause)
                self.fail(500, "internal error")
        except httptools.HttpParserUpgrade as upgrade:
            # A tunnel (WebSocket): from here on the bytes are not HTTP; the active request
            # relays them once its upstream agrees to switch.
            active = self._active
            if active is None:
                self.fail(400, "unexpected protocol upgrade")
                return
            self._tunnel = active
            rest = data[upgrade.args[0] :]
            if rest:
                active.tunnel_from_client(rest)
        except httptools.HttpParserError as malformed:
            self.fail(400, f"malformed request: {malformed}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.deadline_kind = _NO_DEADLINE
        self._server.connections.discard(self)
        active, self._active = self._active, None
        if active is not None:
            self._server.in_flight -= 1
            active.abort()  # cancels the upstream call too

    def eof_received(self) -> bool | None:
        return None  # a client that stops sending has given up: close, aborting its request

    def pause_writing(self) -> None:
        self.writable = False
        if self._active is not None:
            self._active.client_writable(False)

    def resume_writing(self) -> None:
        self.writable = True
        if self._active is not None:
            self._active.client_writable(True)

    # -- llhttp callbacks (raising HttpError aborts the parse) --------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._body_bytes = 0
        if self.idle:
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
        if head.expect_continue and head.has_body:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._active is None and not self._queue:
            self.deadline_kind = _NO_DEADLINE
            self.request_complete = False
            if head.has_body:  # the body must keep arriving, at most body_timeout apart
                self._expect(_BODY_DEADLINE, self._limits.body_timeout)
            self._start(head, parsing=True)
        else:
            queued = _Queued(head)
            self._queue.append(queued)
            self._parsing = queued

    def on_body(self, chunk: bytes) -> None:
        if self.deadline_kind == _BODY_DEADLINE:
            self.deadline = self._server.now + self._limits.body_timeout
        self._body_bytes += len(chunk)
        if self._body_bytes > self._limits.max_body:
            raise HttpError(413, "request body too large")
        if self._parsing is not None:
            self._parsing.body(chunk)

    def on_message_complete(self) -> None:
        if self.deadline_kind == _BODY_DEADLINE:
            self.deadline_kind = _NO_DEADLINE
        parsing, self._parsing = self._parsing, None
        if parsing is not None and parsing is self._active:
            self.request_complete = True
        if parsing is not None:
            parsing.end()
        if self._finish_pending:
            self._finish_pending = False
            self._complete(True)
        if len(self._queue) >= _MAX_PIPELINED:
            self._pause()  # enough requests wait; finished() resumes us

    # -- for the handler ---------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """No request queued or being handled."""
        return self._active is None and not self._queue

    def write(self, data: bytes) -> None:
        if not self.closed:
            self._write(data)

    def pause_reading(self) -> None:
        if not self.closed:
            self._pause()

    def resume_reading(self) -> None:
        if not self.closed and self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    def _pause(self) -> None:
        self._reading_paused = True
        self.transport.pause_reading()

    def finished(self, *, keep_alive: bool) -> None:
        """The active request's response is written; go on with the next (or close)."""
        if self._active is None:
            return
        if self._parsing is self._active:
            # Answered before the request was read to its end (an error, say): a bodiless
            # request ends in this same parse, so finish then; a body would have to be drained.
            if keep_alive and not self._active_has_body:
                self._finish_pending = True
                return
            keep_alive = False
        self._complete(keep_alive)

    def _complete(self, keep_alive: bool) -> None:
        self._active = None
        self._server.in_flight -= 1
        if self.closed:
            return
        if not keep_alive or not self.request_complete or self._server.draining:
            self.close()  # asked to, or the request's body was not read to its end
            return
        self.resume_reading()  # if a full queue or a slow upstream paused it
        if not self._queue:
            self._expect(_IDLE_DEADLINE, self._limits.idle_timeout)
            return
        queued = self._queue.popleft()
        self.request_complete = queued.ended
        try:
            sink = self._start(queued.head, parsing=self._parsing is queued)
        except HttpError as exc:
            self.fail(exc.status, exc.reason)
            return
        for chunk in queued.chunks:
            sink.body(chunk)
        if queued.ended:
            sink.end()

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

    # -- internals ---------------------------------------------------------------------------
    def _start(self, head: RequestHead, *, parsing: bool) -> RequestSink:
        """Make ``head`` the active request (``parsing``: its body is still arriving)."""
        self._active_has_body = head.has_body
        try:
            sink = self._server.handler(head, self)
        except Exception:
            _log.exception("request handler failed")
            raise HttpError(500, "internal error") from None
        self._server.in_flight += 1
        self._active = sink
        if parsing:
            self._parsing = sink
        sink.start()
        return sink

    def _expect(self, kind: int, seconds: float) -> None:
        self.deadline = self._server.now + seconds
        self.deadline_kind = kind

    def expired(self) -> None:
        """The server's sweep found this connection's deadline passed."""
        kind, self.deadline_kind = self.deadline_kind, _NO_DEADLINE
        if kind == _HEAD_DEADLINE:
            self.fail(408, "request head not received in time")
        elif kind == _BODY_DEADLINE:
            active, self._active = self._active, None
            if active is not None:
                self._server.in_flight -= 1
                active.abort()
            self.fail(408, "request body stalled")
        elif kind == _IDLE_DEADLINE:
            self.close()
