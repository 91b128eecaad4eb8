"""One request through the gateway, from the client's head to the upstream's last byte.

The request takes the fixed phases documented in :mod:`~meshkit.gateway.filter_chain`
(arrive, route, request filters, upstream select, upstream request, response filters, log),
one method each below, and moves through the states of
:mod:`~meshkit.gateway.exchange_state` — one integer, changed only by :meth:`Exchange._enter`
along that module's table. Everything runs in callbacks (no task per request): the client
connection calls the :class:`~meshkit.gateway.request_sink.RequestSink` side, the upstream
connection the :class:`~meshkit.gateway.upstream.ResponseSink` side.

Theory of operation
-------------------
A matched route's bulkhead admits, queues (``max_queued``, for ``max_queue_wait``) or refuses
the request; admitted, it is counted in flight and the route's request filters run. Then a
service is picked (a weighted split draws from the gateway's random source), a client waiting
with ``Expect: 100-continue`` is told to go on, and a body up to ``request_buffer`` bytes is
read whole first (nginx's request buffering: a client trickling its body holds no upstream
connection); a larger one streams. The deadline (the route's or service's ``timeout``) is one
clock timer, only when configured. An endpoint is leased from the service's route (balancer,
breaker, outlier state: 503 with ``Retry-After`` if none can take it), and an idle pooled
connection taken — or one opened, the only step that needs a task. The head goes out with the
body held so far; the rest follows as it arrives.

The answer comes back through callbacks: its head settles the lease (so the balancer, breaker
and outlier detection see the status at once), passes the response filters, and is framed for
the client (:mod:`~meshkit.gateway.response_framing`) but held until the first body bytes, so a
small answer leaves in one write; the body is re-framed as needed, each side pausing the
other's reading while its own socket is full. A ``101`` to an upgrade request makes the
exchange a :class:`~meshkit.gateway.tunnel.Tunnel`; one nobody asked for is refused (502).

Retries (:mod:`~meshkit.gateway.exchange_retry`): a connect failure, a reused connection the
upstream had closed, or a 502/503/504 answer without ``Retry-After`` is tried again on another
endpoint when the service's retry policy allows. Every other failure is answered from the
error table (:mod:`~meshkit.gateway.local_reply`); once the response has started, a failure
can only cut the connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final

from meshkit.clock import TimerHandle
from meshkit.errors import MeshError, UpstreamError
from meshkit.gateway.exchange_retry import RetryState
from meshkit.gateway.exchange_state import (
    ALLOWED,
    BACKING_OFF,
    BUFFERING,
    CONNECTING,
    DONE,
    FILTERING,
    QUEUED,
    RECEIVED,
    RESPONDING,
    RESPONSE_FILTERING,
    TUNNEL,
    WAITING,
    IllegalTransition,
)
from meshkit.gateway.filter_chain import CONTINUE, PAUSED, ResponseEdit
from meshkit.gateway.filters import Reply
from meshkit.gateway.http1 import RequestHead, request_head_bytes, response_head_bytes
from meshkit.gateway.local_reply import error_answer, reply_answer
from meshkit.gateway.outgoing import OutgoingBody
from meshkit.gateway.request_sink import RequestSink
from meshkit.gateway.response_framing import frame_response
from meshkit.gateway.response_head import ResponseHead
from meshkit.gateway.tunnel import Tunnel
from meshkit.gateway.upstream import BadUpstreamResponse, ResponseSink, UpstreamConnection
from meshkit.health.outlier import ErrorKind
from meshkit.observability.stats import RequestStats
from meshkit.upstreams.retry_after import parse_retry_after

if TYPE_CHECKING:
    from meshkit.gateway.connection import ClientConnection
    from meshkit.gateway.gateway import Gateway
    from meshkit.gateway.router import Route, Router

__all__ = ["Exchange"]

_log = logging.getLogger("meshkit.gateway")
_RETRY_STATUSES: Final = frozenset({502, 503, 504})


class Exchange(RequestSink, ResponseSink):
    """The state of one request in the gateway; see the module docstring. What filters use:
    ``head``, ``client``, ``gateway``, ``request_id``, ``serial``, ``upstream_lines``,
    ``status``, :meth:`client_address`, :meth:`answer`, :meth:`reply`, :meth:`wait_for`,
    :meth:`resume_request`, :meth:`resume_response`, :meth:`response_failed`."""

    def __init__(self, gateway: Gateway, head: RequestHead, client: ClientConnection) -> None:
        self.gateway = gateway
        self.head = head
        self.client = client
        self.state = RECEIVED
        self.request_id = head.header(b"x-request-id") or b""
        self.serial = gateway.identities.serial()  # the unique part of this request's ids
        self.status: int | None = None  # the status answered (None: cut, abandoned, not yet)
        self.upstream_lines: list[bytes] = []  # raw lines the filters add to the upstream head
        self.route: Route | None = None
        self.retry = RetryState()
        # None for the common bodiless request: nothing to frame, hold or replay
        self._body = OutgoingBody(head) if head.has_body else None
        self._conn: UpstreamConnection | None = None
        self._connecting: asyncio.Task[UpstreamConnection] | None = None
        self._timer: TimerHandle | None = None  # the deadline, or the bulkhead queue's wait
        self._next_filter = 0  # where a paused chain goes on
        self._task: asyncio.Task[None] | None = None  # a paused filter's work
        self._client: str | None = None  # the client's address, once asked (see forwarded)
        self._counted: RequestStats | None = None  # the route's stats, while in flight there
        self._started = 0.0  # when the route admitted it
        self._response: ResponseHead | None = None  # held while response filters work
        self._edit: ResponseEdit | None = None
        self._held: list[bytes] = []  # response body bytes held meanwhile
        self._held_end: bool | None = None  # ... and the end, with its keep-alive
        self._chunked = False  # the body goes to the client re-framed in chunks
        self._pending_head = b""  # the response head, sent with the first body bytes

    # -- the life ----------------------------------------------------------------------------
    def _enter(self, target: int) -> None:
        source = self.state
        if not ALLOWED[source] >> target & 1:
            raise IllegalTransition(source, target)
        self.state = target
        watch = self.gateway.watch_transitions
        if watch is not None:
            watch(self, source, target)

    @property
    def gave_up(self) -> bool:
        """Over already (a queued request that no longer wants a slot)."""
        return self.state == DONE

    @property
    def route_name(self) -> str:
        return self.route.name if self.route is not None else ""

    # -- phases 1 and 2: arrive, route -------------------------------------------------------
    def start(self) -> None:
        gateway = self.gateway
        if not self.request_id:
            self.request_id = gateway.identities.request_id(self.serial)
        router = gateway.router
        route = router.match(self.head)
        if route is None:
            self._unrouted(router)
            return
        self.route = route
        if not route.full():
            self._admitted()
        elif route.enqueue(self):
            self._enter(QUEUED)
            self._timer = gateway.clock.call_later(route.max_queue_wait, self._wait_over)
        else:
            self.answer(503, "too many requests in flight", retry_after=1.0)

    def _unrouted(self, router: Router) -> None:
        allowed = router.allowed(self.head)
        if allowed:
            allow = [(b"allow", b", ".join(allowed))]
            self.answer(405, "method not allowed for this route", extra=allow)
        else:
            self.answer(404, "no route")
        self.gateway.unrouted.record(self.status, 0.0)

    def _admitted(self) -> None:
        """Past the route's bulkhead: counted in flight from now until the log phase."""
        route = self.route
        assert route is not None
        self._started = self.gateway.monotonic()
        self._counted = stats = route.stats
        stats.in_flight += 1
        self._request_filters(0)

    def _wait_over(self) -> None:
        """Queued at the route's bulkhead for ``max_queue_wait`` without a slot."""
        self._timer = None
        if self.route is not None:
            self.route.leave_queue(self)
        self.answer(503, "too many requests in flight", retry_after=1.0)

    # -- phase 3: request filters ------------------------------------------------------------
    def _request_filters(self, index: int) -> None:
        route = self.route
        assert route is not None
        filters = route.chain.request
        while index < len(filters):
            verdict = filters[index].on_request(self)
            index += 1
            if verdict != CONTINUE:
                self._stopped(verdict, index)
                return
        self._select_upstream()

    def _stopped(self, verdict: int, index: int) -> None:
        """A request filter answered or paused (``index``: the filter after it)."""
        if self.state == DONE:
            return  # it answered
        if verdict == PAUSED:
            self._next_filter = index
            self._enter(FILTERING)
        else:
            _log.error("a request filter said it answered but did not")
            self.answer(500, "filter failed")

    def resume_request(self) -> None:
        """A paused request filter is done: the chain goes on after it."""
        if self.state == FILTERING:
            self._request_filters(self._next_filter)

    def wait_for(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a paused filter's async work (cancelled if the client goes away)."""
        self._task = task = asyncio.get_running_loop().create_task(work)
        task.add_done_callback(self._work_done)

    def _work_done(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled() and task.exception() is not None:
            _log.error("filter work failed: %r", task.exception())
            self.answer(500, "filter failed")

    # -- phase 4: upstream select ------------------------------------------------------------
    def _select_upstream(self) -> None:
        gateway, route = self.gateway, self.route
        assert route is not None
        try:
            self.retry.service = gateway.mesh.route(route.pick_service(gateway.rng))
        except MeshError as exc:
            self._answer_error(exc)
            return
        if self.head.expect_continue:
            self.client.send_continue()
        body = self._body
        if body is not None and not body.ended and self._buffers(body):
            self._enter(BUFFERING)  # end() (or a body outgrowing the buffer) goes on
            return
        self._go()

    def _buffers(self, body: OutgoingBody) -> bool:
        """Whether the body is read whole before an upstream connection is taken."""
        limit = self.gateway.listener.limits.request_buffer
        length = self.head.content_length
        return body.held <= limit if length is None else length <= limit

    def _go(self) -> None:
        """Arm the deadline and send the request on its way."""
        route, service = self.route, self.retry.service
        assert route is not None
        assert service is not None
        timeout = route.timeout if route.timeout is not None else service.timeout
        if timeout is not None:
            self._timer = self.gateway.clock.call_later(timeout, self._timed_out)
        self.retry.first_attempt(self.gateway.monotonic())
        self._dispatch()

    def _dispatch(self) -> None:
        """Lease an endpoint and take (or open) a connection to it."""
        self._enter(CONNECTING)
        retry = self.retry
        try:
            endpoint = retry.lease(self._hash_key())
        except MeshError as exc:
            self._answer_error(exc)
            return
        instance = endpoint.payload
        pool = retry.pool = self.gateway.pool(retry.service_name, instance.host, instance.port)
        conn = pool.take_idle()
        if conn is not None:
            self._attach(conn)
            return
        task = asyncio.get_running_loop().create_task(pool.open())
        self._connecting = task
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[UpstreamConnection]) -> None:
        self._connecting = None
        if task.cancelled() or self.state != CONNECTING:
            pool = self.retry.pool
            if not task.cancelled() and task.exception() is None and pool is not None:
                pool.release(task.result(), reusable=False)
            return
        error = task.exception()
        if error is None:
            self._attach(task.result())
        elif isinstance(error, MeshError):
            self.retry.connect_failed(error)
            self._retry_or_answer(error, stale=True)
        else:
            _log.error("connecting upstream failed: %r", error)
            self.answer(502, "bad gateway")

    # -- phase 5: upstream request -----------------------------------------------------------
    def _attach(self, conn: UpstreamConnection) -> None:
        self._enter(WAITING)
        self._conn = conn
        route, head = self.route, self.head
        assert route is not None
        conn.begin(self, head_only=head.method == b"HEAD")
        data = request_head_bytes(
            head,
            target=route.upstream_target(head),
            host=route.rewrite_host or head.host or self.retry.address(),
            extra=self.upstream_lines,
        )
        if self._body is None:
            conn.write(data)
            return
        body, released = self._body.take()
        conn.write(data + body if body else data)
        if released:
            self.client.resume_reading()

    def _retry_or_answer(self, error: MeshError, *, stale: bool) -> None:
        delay = self.retry.next_delay(self.head, self._body, stale=stale, route=self.route)
        if delay is None:
            self._answer_error(error)
        else:
            self._retry_later(delay)

    # -- the upstream's side (ResponseSink) ----------------------------------------------------
    def response_head(self, head: ResponseHead) -> None:
        if self.state != WAITING:
            return
        status = head.status
        upgrade = self.head.upgrade
        if status == 101 and upgrade is None:
            self.retry.settle(error=ErrorKind.RESET)  # a protocol switch nobody asked for
            self._answer_error(BadUpstreamResponse("an unsolicited 101 Switching Protocols"))
            return
        retry_after = None
        if head.retry_after is not None and status in (429, 503):
            retry_after = parse_retry_after(head.retry_after.decode("latin-1"))
        self.status = status
        self.retry.settle(status=status, retry_after=retry_after)
        if status == 101 and upgrade is not None:
            self._open_tunnel(head, upgrade)
            return
        if status in _RETRY_STATUSES and retry_after is None:  # (asked to wait: not at once)
            delay = self.retry.next_delay(self.head, self._body, stale=False, route=self.route)
            if delay is not None:
                self._drop_conn()  # its answer is not wanted: the connection goes with it
                self._retry_later(delay)
                return
        route = self.route
        assert route is not None
        if not route.chain.response:
            self._enter(RESPONDING)
            self._frame(head, None)  # relayed from the upstream's bytes
            return
        self._response = head
        self._edit = ResponseEdit(status, [*head.headers, (b"x-request-id", self.request_id)])
        self._response_filters(0)

    def _retry_later(self, delay: float) -> None:
        if delay <= 0.0:
            self._dispatch()
        else:
            self._enter(BACKING_OFF)
            self.retry.wait(self.gateway.clock, delay, self._dispatch)

    # -- phase 6: response filters -----------------------------------------------------------
    def _response_filters(self, index: int) -> None:
        route, edit, head = self.route, self._edit, self._response
        assert route is not None
        assert edit is not None
        assert head is not None
        filters = route.chain.response
        while index < len(filters):
            if filters[index].on_response(self, edit) == PAUSED:
                self._next_filter = index + 1
                if self.state != RESPONSE_FILTERING:
                    self._enter(RESPONSE_FILTERING)  # body bytes are held meanwhile
                    if self._conn is not None:
                        self._conn.transport.pause_reading()
                return
            index += 1
        paused = self.state == RESPONSE_FILTERING
        self._enter(RESPONDING)
        head.status = edit.status
        self._frame(head, edit.headers)
        if paused:
            self._release_held()

    def resume_response(self) -> None:
        """A paused response filter is done: the chain goes on after it."""
        if self.state == RESPONSE_FILTERING:
            self._response_filters(self._next_filter)

    def response_failed(self, status: int, message: str) -> None:
        """A response filter failed: the client gets ``status`` instead of the response."""
        if self.state == RESPONSE_FILTERING:
            self._held = []
            self._held_end = None
            self._drop_conn()
            self.answer(status, message)

    def _release_held(self) -> None:
        held, self._held = self._held, []
        end, self._held_end = self._held_end, None
        for chunk in held:
            self.response_body(chunk)
        if end is not None:
            self.response_end(end)
        elif self._conn is not None and not self._conn.closed:
            self._conn.transport.resume_reading()

    def _frame(self, head: ResponseHead, headers: list[tuple[bytes, bytes]] | None) -> None:
        """Frame the response head for the client; it goes out with the first body bytes.
        ``headers``: the fields to send, edited; ``None``: the upstream's, as they came."""
        request = self.head
        framing = frame_response(
            method=request.method,
            http10=request.version == "1.0",
            status=head.status,
            upstream_chunked=head.chunked,
            upstream_length=head.content_length,
            keep_alive=self._keep_alive(),
        )
        self._chunked = framing.chunked
        if headers is None:
            relayed = head.relayed(
                b"x-request-id: " + self.request_id + b"\r\n",
                content_length=framing.content_length,
                keep_alive=framing.keep_alive,
                no_body=framing.no_body,
                close_delimited=framing.close_delimited,
            )
            if relayed is not None:
                self._pending_head = relayed
                return
            headers = [*head.headers, (b"x-request-id", self.request_id)]
        self._pending_head = response_head_bytes(
            head.status,
            headers,
            content_length=framing.content_length,
            keep_alive=framing.keep_alive,
            no_body=framing.no_body,
            close_delimited=framing.close_delimited,
        )

    def response_body(self, chunk: bytes) -> None:
        if self.state != RESPONDING:
            if self.state == RESPONSE_FILTERING:
                self._held.append(chunk)
            return
        data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self._chunked else chunk
        if self._pending_head:
            data = self._pending_head + data  # head and first bytes in one write
            self._pending_head = b""
        self.client.write(data)
        if not self.client.writable and self._conn is not None:
            self._conn.transport.pause_reading()

    def response_end(self, keep_alive: bool) -> None:
        if self.state != RESPONDING:
            if self.state == RESPONSE_FILTERING:
                self._held_end = keep_alive
            return
        tail = b"0\r\n\r\n" if self._chunked else b""
        self.client.write(self._pending_head + tail)
        self._pending_head = b""
        self._release_conn(reusable=keep_alive and self._request_read())
        self._finish(self._keep_alive())

    def upstream_failed(self, error: UpstreamError, *, stale: bool) -> None:
        state = self.state
        if state == DONE:
            return
        self._drop_conn()
        if state == TUNNEL:
            self._tunnel_closed()
            return
        if state in (RESPONDING, RESPONSE_FILTERING):
            self._cut()
            return
        if stale:
            self.retry.settle(cancelled=True)  # the endpoint did nothing wrong
        else:
            self.retry.settle(error=ErrorKind.RESET)
        self._retry_or_answer(error, stale=stale)

    def upstream_writable(self, writable: bool) -> None:
        if writable:
            self.client.resume_reading()
        else:
            self.client.pause_reading()

    def _open_tunnel(self, head: ResponseHead, upgrade: bytes) -> None:
        conn = self._conn
        assert conn is not None
        self._enter(TUNNEL)
        self._cancel_timer()  # a tunnel lives as long as both ends want it
        value = next((v for k, v in head.headers if k == b"upgrade"), upgrade)
        headers = [*head.headers, (b"x-request-id", self.request_id)]
        self.client.write(
            response_head_bytes(101, headers, content_length=None, keep_alive=True, upgrade=value)
        )
        tunnel = Tunnel(self.client, conn)
        conn.tunnel = tunnel
        held = self.client.open_tunnel(tunnel)
        if held:
            conn.write(held)

    # -- the client's side (RequestSink) -------------------------------------------------------
    def body(self, chunk: bytes) -> None:
        body = self._body
        if body is None or self.state == DONE:
            return
        if body.add(chunk, self._conn):
            self.client.pause_reading()
        if self.state == BUFFERING and not self._buffers(body):
            self._go()  # a chunked body outgrew the buffer: stream the rest

    def end(self) -> None:
        if self._body is not None:
            self._body.finish(None if self.state == DONE else self._conn)
        if self.state == BUFFERING:
            self._go()

    def abort(self) -> None:
        """The client went away: drop the upstream side too."""
        state = self.state
        if state == DONE:
            return
        self._enter(DONE)
        self._cancel_timer()
        self.retry.cancel()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._task is not None:
            self._task.cancel()
        if self.route is not None:
            self.route.leave_queue(self)
        self._drop_conn()
        self.retry.settle(cancelled=True)
        if state != TUNNEL:  # (a tunnel ends when either side closes: that is no failure)
            self.status = None
        self._log()

    def client_writable(self, writable: bool) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            if writable:
                conn.transport.resume_reading()
            else:
                conn.transport.pause_reading()

    # -- local answers -----------------------------------------------------------------------
    def answer(
        self,
        status: int,
        message: str,
        *,
        retry_after: float | None = None,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Answer the client from the gateway (an error, a refusal); once the response has
        started, the connection can only be cut."""
        state = self.state
        if state == DONE:
            return
        if state in (RESPONDING, TUNNEL):
            self._cut()
            return
        self._drop_conn()
        self.retry.settle(cancelled=True)
        keep_alive = self._keep_alive() and self._request_read()
        self.client.write(
            error_answer(status, message, self.request_id, keep_alive=keep_alive,
                         retry_after=retry_after, extra=extra)
        )  # fmt: skip
        self.status = status
        self._finish(keep_alive)

    def reply(self, reply: Reply) -> None:
        """A request filter's answer instead of the upstream's."""
        if self.state == DONE:
            return
        keep_alive = self._keep_alive() and self._request_read()
        try:
            data = reply_answer(reply, self.request_id, keep_alive=keep_alive)
        except (ValueError, UnicodeError, TypeError):
            self.answer(500, "filter failed")
            return
        self._drop_conn()
        self.client.write(data)
        self.status = reply.status
        self._finish(keep_alive)

    def _answer_error(self, error: BaseException) -> None:
        status, message = self.gateway.classify(error)
        self.answer(status, message, retry_after=getattr(error, "retry_after", None))

    def _timed_out(self) -> None:
        self._timer = None
        if self.state == DONE:
            return
        if self._connecting is not None:
            self._connecting.cancel()
        self.retry.cancel()
        self._drop_conn()
        self.retry.settle(error=ErrorKind.TIMEOUT)
        self.answer(504, "upstream timeout")

    # -- phase 7: log ------------------------------------------------------------------------
    def _finish(self, keep_alive: bool) -> None:
        self._enter(DONE)
        self._cancel_timer()
        self._log()
        self.client.finished(keep_alive=keep_alive)

    def _cut(self) -> None:
        """The response has started and cannot be finished: close, so the client sees it."""
        self._enter(DONE)
        self._cancel_timer()
        self.status = None  # counted as an error
        self._log()
        self.client.close()
        self.client.finished(keep_alive=False)

    def _tunnel_closed(self) -> None:
        """The upstream closed its end of the tunnel: the client's goes too."""
        self._enter(DONE)
        self._log()
        self.client.close()
        self.client.finished(keep_alive=False)

    def _log(self) -> None:
        """Count the request in its route's statistics, once, however it ended."""
        stats, route = self._counted, self.route
        if stats is None or route is None:
            return  # never admitted (refused at the bulkhead, unrouted)
        self._counted = None
        stats.in_flight -= 1
        stats.record(self.status, self.gateway.monotonic() - self._started)
        for log_filter in route.chain.log:
            log_filter.on_log(self)
        waiting = route.next_waiting()  # the freed slot goes to the longest waiting
        if waiting is not None:
            waiting.admit_from_queue()

    def admit_from_queue(self) -> None:
        """A slot freed at the route's bulkhead: this queued request takes it."""
        self._cancel_timer()
        self._admitted()

    # -- internals ---------------------------------------------------------------------------
    def _keep_alive(self) -> bool:
        return self.head.keep_alive and not self.gateway.listener.draining

    def _request_read(self) -> bool:
        """The client's request body (if any) has been read to its end."""
        return self._body is None or self._body.ended

    def _drop_conn(self) -> None:
        self._release_conn(reusable=False)

    def _release_conn(self, *, reusable: bool) -> None:
        conn, pool = self._conn, self.retry.pool
        self._conn = None
        if conn is not None and pool is not None:
            pool.release(conn, reusable=reusable)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _hash_key(self) -> bytes:
        """The consistent-hashing key: the client's address (affinity per client); the other
        algorithms ignore it."""
        if not self.gateway.behind_proxies:
            return self.client.peer_bytes
        return self.client_address().encode()

    def client_address(self) -> str:
        """The client: the socket peer, or who a trusted proxy says it forwards for."""
        address = self._client
        if address is None:
            address = self._client = self.gateway.client_address(self.head, self.client)
        return address
