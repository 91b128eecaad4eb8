"""A client connection: one asyncio protocol each, llhttp parsing, limits, deadlines.

Theory of operation
-------------------
``data_received`` feeds llhttp; its callbacks build
a :class:`RequestHead` while enforcing the size limits (414 request line, 431 header line /
total / count), then :func:`check_head` validates framing and the body limit (413). The
limits hold as bytes arrive, not only once a line is whole: llhttp (through httptools) keeps
a header line until it ends, so after each read a head still incomplete is measured from the
bytes since its last line end — one line without end is refused at once, holding at most one
read. Each request is handed to the server's handler, which returns a :class:`RequestSink`;
the body's chunks go to the sink as they arrive and the sink writes the response back
through :meth:`ClientConnection.write`, then calls :meth:`ClientConnection.finished`. There
is no task or future per request: the whole path is callbacks, as in a bare forwarder.
Back-pressure runs both ways: a sink pauses this connection's reading
(:meth:`pause_reading`) and hears when the client's socket is writable again
(:meth:`RequestSink.client_writable`).

Reading goes on while a request is handled, so a client that hangs up is noticed and its
request aborted (the upstream call with it). A client that only half-closes (``shutdown``
of its sending side after the request, as ``nc -N`` does) is still answered by default:
what it asked before its end is served, then the connection closes (``half_closed_clients:
abort`` treats the end as a hang-up instead). Pipelined requests queue in order,
their bodies buffered, at most a few before reading pauses; a malformed request behind good
ones is answered (400, then close) only after their answers, in order.

``Expect: 100-continue`` is answered by the exchange once the request is routed and
admitted (:meth:`ClientConnection.send_continue`), never before. Header names holding ``_``
are dropped, kept or refused as the limits say. After an upgrade request the bytes that
follow are held until the upstream agrees (101: they start the tunnel) or declines (any
other answer: they are parsed as the next requests, with a fresh parser).

Deadlines: a head deadline (``header_timeout``) from the first byte of a request (or from
the connection's start) answers 408 and closes; so does a body that stalls for
``body_timeout`` or arrives slower than ``min_body_rate`` (unless the gateway itself paused
reading it); an idle deadline (``idle_timeout``) closes a keep-alive connection that
sends nothing. A connection only notes its deadline; one sweep per server
(:mod:`~meshkit.gateway.listener`), every 0.1 s, enforces them all (no timer is made or
cancelled per request). Any error the gateway answers itself closes the connection when
the request's framing can no longer be trusted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Final, cast

import httptools

from meshkit.gateway.head_meter import HeadMeter
from meshkit.gateway.http1 import HttpError, RequestHead, check_head, response_head_bytes
from meshkit.gateway.paths import normalize_path
from meshkit.gateway.request_sink import QueuedRequest, RequestSink

if TYPE_CHECKING:
    from meshkit.gateway.listener import Listener
    from meshkit.gateway.tunnel import Tunnel

__all__ = ["ClientConnection"]

_log = logging.getLogger("meshkit.gateway")

_MAX_PIPELINED: Final = 8  # requests parsed ahead of their turn before reading pauses
_MAX_HELD: Final = 64 * 1024  # bytes held after an upgrade request before reading pauses
_NO_DEADLINE, _HEAD_DEADLINE, _IDLE_DEADLINE, _BODY_DEADLINE, _LINGER_DEADLINE = 0, 1, 2, 3, 4
# Reading (and dropping) what a refused client still sends lasts at most this long (nginx's
# lingering_time is 30 s, its lingering_timeout 5 s: a refused client gets less of our time).
_LINGER: Final = 2.0
_ALLOW, _DROP, _REJECT = 0, 1, 2
_UNDERSCORE_ACTIONS: Final = {"allow": _ALLOW, "drop": _DROP, "reject": _REJECT}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
# ord("_"): bytes.__contains__ takes an integer straight to memchr, where a bytes operand is
# first tried as an integer, failing with a TypeError built and cleared (~1,800 instructions
# per header field; bytes.find parses its arguments the slow way, ~400)
_UNDERSCORE: Final = 95


class ClientConnection:
    """One client connection; see the module docstring.

    An asyncio protocol by its methods, not by inheritance: a class of its own compiles to
    a native class (attributes in slots, direct method calls), which is what makes the
    compiled data path fast.
    """

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._limits = limits = listener.limits
        self._underscores = _UNDERSCORE_ACTIONS[limits.headers_with_underscores]
        self._abort_on_eof = limits.half_closed_clients == "abort"
        self._normalize = limits.normalize_path
        self.transport: Any = None
        self._write: Any = None  # transport.write, looked up once
        self._reading_paused = False
        self.peer = ""
        self.peer_bytes = b""  # the same, encoded once (forwarding headers, hashing keys)
        self._parser = httptools.HttpRequestParser(self)
        self._active: RequestSink | None = None
        self._parsing: RequestSink | None = None
        self._queue: deque[QueuedRequest] = deque()
        self._tunnel: Tunnel | None = None  # after the upstream agreed to an upgrade
        # After an upgrade request: the bytes that follow, until the upstream agrees or not.
        self._upgrading = False
        self._held: list[bytes] = []
        self._held_size = 0
        self.request_complete = False  # the active request's body has been read to its end
        self._active_has_body = False
        self._finish_pending = False
        self.writable = True
        # One deadline at a time, checked by the server's sweep (no timer per request).
        self.deadline = 0.0
        self.deadline_kind = _NO_DEADLINE
        self.closed = False
        self._lingering = False  # answered and closing: what still arrives is dropped
        self._eof = False  # the client half-closed: answer what it asked, then close
        self._refusal: HttpError | None = None  # a malformed request behind earlier ones
        # the head being parsed: its target and fields, measured as they come
        self._meter = HeadMeter(limits)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body_bytes = 0
        self._body_start = 0.0  # the origin of the min_body_rate allowance
        self._body_base = 0  # body bytes already received at that origin

    # -- asyncio protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._write = self.transport.write
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.peer_bytes = self.peer.encode()
        self._listener.connections.add(self)
        self._expect(_HEAD_DEADLINE, self._limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        if self.closed or self._refusal is not None:
            return  # (answered and lingering, or behind a refusal: dropped)
        if self._tunnel is not None:
            self._tunnel.from_client(data)
            return
        if self._upgrading:
            self._hold(data)
            return
        meter = self._meter
        meter.read_starts()
        try:
            self._parser.feed_data(data)
            if meter.in_head:
                meter.after_read(data)
        except HttpError as exc:
            self._refuse(exc)
        except httptools.HttpParserCallbackError as wrapped:
            # llhttp wraps what a callback raised; our refusals say what to answer.
            cause = wrapped.__cause__ or wrapped.__context__
            if isinstance(cause, HttpError):
                self._refuse(cause)
            else:
                _log.error("request parser callback failed: %r", cause)
                self.fail(500, "internal error")
        except httptools.HttpParserUpgrade as upgrade:
            # An upgrade request (WebSocket, h2c): what follows is not HTTP if the upstream
            # agrees to switch, and the next requests if it does not; held until it says.
            if self._active is None:
                self.fail(400, "unexpected protocol upgrade")
                return
            self._upgrading = True
            rest = data[upgrade.args[0] :]
            if rest:
                self._hold(rest)
        except httptools.HttpParserError as malformed:
            self._refuse(HttpError(400, f"malformed request: {malformed}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.deadline_kind = _NO_DEADLINE
        self._listener.connection_lost(self)
        active, self._active = self._active, None
        if active is not None:
            self._listener.in_flight -= 1
            active.abort()  # cancels the upstream call too

    def eof_received(self) -> bool | None:
        """The client will send no more. What it asked in full is still answered (it may
        have only shut its sending side); a request it left unfinished never will be."""
        if self._lingering:
            return None  # it has read our answer and is done: close
        if self._tunnel is not None or self._listener.tls or self._abort_on_eof:
            return None  # a tunnel ends with either side; TLS cannot half-close
        parsing = self._parsing
        if parsing is not None and parsing is self._active:
            return None  # its body will never end: give up on it (and close)
        if parsing is not None:
            self._queue.remove(
                cast(QueuedRequest, parsing)
            )  # a queued request cut short: never answered
            self._parsing = None
        if self.idle:
            return None
        self._eof = True
        return True  # keep the sending side open for the answers

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
        self._meter.head_begins()
        self._url = b""
        self._headers = []
        self._body_bytes = 0
        if self.idle:
            self._expect(_HEAD_DEADLINE, self._limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._meter.target(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._meter.field(len(name) + len(value) + 4)
        if self._underscores != _ALLOW and _UNDERSCORE in name:
            if self._underscores == _DROP:
                return
            raise HttpError(400, "header names may not contain underscores")
        # Names are kept lowercase (they are case-insensitive; HTTP/2 and most proxies send
        # them so), which spares a .lower() at every later lookup.
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self._meter.head_ends()
        parser = self._parser
        head = RequestHead(
            method=parser.get_method(),
            target=self._url,
            version=parser.get_http_version(),
            headers=self._headers,
            keep_alive=parser.should_keep_alive(),
        )
        check_head(head)
        if self._normalize and head.path[:1] == b"/":
            head.path = normalize_path(head.path, merge_slashes=self._limits.merge_slashes)
        if head.content_length is not None and head.content_length > self._limits.max_body:
            raise HttpError(413, "request body too large")
        if self._active is None and not self._queue:
            self.deadline_kind = _NO_DEADLINE
            self.request_complete = False
            if head.has_body:  # the body must keep arriving: see min_body_rate
                self._expect(_BODY_DEADLINE, self._limits.body_timeout)
                self._body_start = self._listener.now
                self._body_base = 0
            self._start(head, parsing=True)
        else:
            queued = QueuedRequest(head)
            self._queue.append(queued)
            self._parsing = queued

    def on_body(self, chunk: bytes) -> None:
        self._meter.body_fed(len(chunk))
        self._body_bytes += len(chunk)
        if self.deadline_kind == _BODY_DEADLINE:
            limits = self._limits
            stall = self._listener.now + limits.body_timeout
            rate = limits.min_body_rate
            if rate:
                earned = (self._body_bytes - self._body_base) / rate
                stall = min(stall, self._body_start + limits.body_timeout + earned)
            self.deadline = stall
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

    def send_continue(self) -> None:
        """``100 Continue``: the active request (which sent ``Expect: 100-continue``) is
        routed and admitted, so its body will be read. Not sent once the body is in."""
        if not self.closed and not self.request_complete:
            self._write(_CONTINUE)

    def open_tunnel(self, tunnel: Tunnel) -> bytes:
        """The upstream agreed to the active request's upgrade: from now on bytes go to
        ``tunnel`` raw. Returns what the client sent after the request meanwhile."""
        self._upgrading = False
        self._tunnel = tunnel
        held = b"".join(self._held)
        self._held = []
        self._held_size = 0
        self.resume_reading()
        return held

    def pause_reading(self) -> None:
        if not self.closed:
            self._pause()

    def resume_reading(self) -> None:
        if not self.closed and self._reading_paused and self._refusal is None:
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
        self._listener.in_flight -= 1
        if self.closed:
            return
        if not keep_alive or not self.request_complete or self._listener.draining:
            self.close()  # asked to, or the request's body was not read to its end
            return
        self.resume_reading()  # if a full queue or a slow upstream paused it
        if self._upgrading:  # (nothing is queued behind an upgrade: its bytes were held)
            self._upgrade_declined()
            if self.closed or self._active is not None:
                return  # the held bytes began the next request: its end goes on from here
        if not self._queue:
            if self._refusal is not None:
                self.fail(self._refusal.status, self._refusal.reason)
            elif self._eof:
                self.close()  # everything the client asked is answered
            else:
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
        self._linger()

    def _linger(self) -> None:
        """Close after an answer while the client may still be sending: end our side (FIN),
        read and drop what still comes for up to ``_LINGER`` seconds, then close. Closing at
        once with unread bytes makes the kernel reset the connection, which throws away the
        answer before the client reads it (nginx's lingering close)."""
        transport = self.transport
        if self._listener.tls or not transport.can_write_eof():
            self.close()
            return
        self.closed = True
        self._lingering = True
        transport.write_eof()
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        self._expect(_LINGER_DEADLINE, _LINGER)

    def close(self) -> None:
        if not self.closed or self._lingering:
            self.closed = True
            self._lingering = False
            self.deadline_kind = _NO_DEADLINE
            self.transport.close()

    # -- internals ---------------------------------------------------------------------------
    def _refuse(self, error: HttpError) -> None:
        """The request being read is malformed or refused. Answered at once if it is the
        only one; behind requests still unanswered, after them (their answers first)."""
        parsing = self._parsing
        if self.idle or parsing is self._active:
            self.fail(error.status, error.reason)
            return
        if parsing is not None:
            self._queue.remove(
                cast(QueuedRequest, parsing)
            )  # a queued request whose body went wrong
            self._parsing = None
        self._refusal = error
        self._meter.head_ends()
        self._pause()

    def _hold(self, data: bytes) -> None:
        self._held.append(data)
        self._held_size += len(data)
        if self._held_size > _MAX_HELD:
            self._pause()  # open_tunnel or the declining answer resumes us

    def _upgrade_declined(self) -> None:
        """The upstream answered an upgrade request without switching: the bytes held since
        are the next requests, for a fresh parser (llhttp stops for good at an upgrade)."""
        self._upgrading = False
        self._parser = httptools.HttpRequestParser(self)
        held = b"".join(self._held)
        self._held = []
        self._held_size = 0
        if held:
            self.data_received(held)

    def _start(self, head: RequestHead, *, parsing: bool) -> RequestSink:
        """Make ``head`` the active request (``parsing``: its body is still arriving)."""
        self._active_has_body = head.has_body
        try:
            sink = self._listener.handler(head, self)
        except Exception:
            _log.exception("request handler failed")
            raise HttpError(500, "internal error") from None
        self._listener.in_flight += 1
        self._active = sink
        if parsing:
            self._parsing = sink
        sink.start()
        return sink

    def _expect(self, kind: int, seconds: float) -> None:
        self.deadline = self._listener.now + seconds
        self.deadline_kind = kind

    def expired(self) -> None:
        """The server's sweep found this connection's deadline passed."""
        kind, self.deadline_kind = self.deadline_kind, _NO_DEADLINE
        if kind == _HEAD_DEADLINE:
            self.fail(408, "request head not received in time")
        elif kind == _BODY_DEADLINE:
            if self._reading_paused:
                # the gateway stopped reading (a slow upstream): not the client's delay
                self._expect(_BODY_DEADLINE, self._limits.body_timeout)
                self._body_start = self._listener.now
                self._body_base = self._body_bytes
                return
            active, self._active = self._active, None
            if active is not None:
                self._listener.in_flight -= 1
                active.abort()
            self.fail(408, "request body stalled")
        elif kind in (_IDLE_DEADLINE, _LINGER_DEADLINE):
            self.close()
