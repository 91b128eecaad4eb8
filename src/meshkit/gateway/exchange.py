"""One proxied request, from the client's head to the upstream's last byte — all callbacks.

Theory of operation
-------------------
``start`` matches a route (404 if none), leases an endpoint from the service's route (its
balancer and the endpoint's breaker: 503 with ``Retry-After`` if none can take it), and takes
an idle pooled connection — or opens one, the only step that needs a task. Once attached, the
request head goes out, then the body as it arrives (re-framed by the gateway; buffered only
while no connection is attached). The upstream's answer comes back through
:class:`~meshkit.gateway.upstream.ResponseSink` callbacks: the head settles the lease (so the
balancer, breaker and outlier detection see the status at once) and is written to the client
together with the first body bytes; the body streams through, with each side pausing the
other's reading while its own socket is full.

Retries: a connect failure, a reused connection the upstream had closed, or a 502/503/504
answer without ``Retry-After`` is retried on a newly leased endpoint, at once, while the
service's attempts and retry budget allow — for idempotent methods (or any method where the
route says ``retry_non_idempotent``), and for bodies up to 64 KiB, which are kept while they
go out so that they can be sent again. A route or service timeout is one clock timer per
request, only when configured. Every failure is answered from the gateway's error table; once
the response has started, a failure can only cut the connection.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING

from meshkit.client.transport import parse_retry_after
from meshkit.clock import TimerHandle
from meshkit.errors import MeshError, UpstreamError, UpstreamTimeout
from meshkit.gateway.exchange_tunnel import Tunnel
from meshkit.gateway.http1 import RequestHead, ResponseHead, request_head_bytes, response_head_bytes
from meshkit.gateway.upstream import UpstreamConnection
from meshkit.health.outlier import ErrorKind
from meshkit.observability.stats import RequestStats

if TYPE_CHECKING:
    from meshkit.client.route import Lease, ServiceRoute
    from meshkit.gateway.proxy import Gateway
    from meshkit.gateway.router import Route
    from meshkit.gateway.server import ClientConnection
    from meshkit.gateway.upstream import EndpointPool

__all__ = ["ProxyExchange"]

_log = logging.getLogger("meshkit.gateway")
_NO_BODY_STATUSES = frozenset({204, 304})
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
_RETRY_STATUSES = frozenset({502, 503, 504})
_BUFFER_LIMIT = 256 * 1024  # request bytes held while no upstream connection is attached
_REPLAY_LIMIT = 64 * 1024  # request bodies up to this size can be sent again on a retry


class ProxyExchange(Tunnel):
    """The state of one request in the gateway; see the module docstring."""

    __slots__ = (
        "_attempts",
        "_buffer",
        "_buffered",
        "_conn",
        "_connecting",
        "_done",
        "_ended",
        "_lease",
        "_out_chunked",
        "_pending_head",
        "_pool",
        "_replay",
        "_replay_size",
        "_request_id",
        "_route",
        "_sent_body",
        "_service",
        "_t0",
        "_timer",
        "client",
        "gateway",
        "head",
    )

    def __init__(self, gateway: Gateway, head: RequestHead, client: ClientConnection) -> None:
        self.gateway = gateway
        self.head = head
        self.client = client
        self._request_id = head.header(b"x-request-id") or b""
        self._route: Route | None = None
        self._service: ServiceRoute | None = None
        self._lease: Lease | None = None
        self._pool: EndpointPool | None = None
        self._conn: UpstreamConnection | None = None
        self._connecting: asyncio.Task[UpstreamConnection] | None = None
        self._timer: TimerHandle | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._ended = not head.has_body
        self._sent_body = False
        # A copy of the (framed) body sent so far, while small enough to send again on a
        # retry; None once it is not (or for a bodiless request).
        self._replay: list[bytes] | None = [] if head.has_body else None
        self._replay_size = 0
        self._attempts = 0
        self._tunnel_open = False
        self._early: list[bytes] = []
        self._pending_head = b""
        self._out_chunked = False
        self._started_response = False
        self._done = False
        self._status: int | None = None
        self._t0 = 0.0
        self._task: asyncio.Task[None] | None = None
        self._hold: list[bytes] | None = None  # response chunks held while filters run
        self._held_end: bool | None = None

    # -- the client's side (RequestSink) -----------------------------------------------------
    def start(self) -> None:
        gateway = self.gateway
        if not self._request_id:
            self._request_id = gateway.new_request_id()
        route = gateway.router.match(self.head)
        if route is None:
            self._answer(404, "no route")
            return
        self._route = route
        if route.max_concurrent is not None and route.stats.in_flight >= route.max_concurrent:
            if len(route.waiting) < route.max_queued:  # the route's bulkhead has a queue
                route.waiting.append(self)
                self._timer = gateway.clock.call_later(route.max_queue_wait, self._wait_over)
                return
            self._answer(503, "too many requests in flight", retry_after=1.0)
            return
        self._admitted()

    def _admitted(self) -> None:
        """Past the route's bulkhead: count the request and go on."""
        gateway, route = self.gateway, self._route
        assert route is not None
        self._t0 = gateway.clock.monotonic()
        route.stats.in_flight += 1
        limiter = route.rate_limiter
        if limiter is not None:
            decision = limiter.try_acquire(route.limit_key(self.head, self.client.peer))
            if not decision.allowed:
                reset = max(1, math.ceil(decision.reset_after))
                self._answer(
                    429,
                    "rate limited",
                    retry_after=decision.retry_after,
                    extra=[
                        (b"ratelimit-limit", b"%d" % decision.limit),
                        (b"ratelimit-remaining", b"%d" % decision.remaining),
                        (b"ratelimit-reset", b"%d" % reset),
                    ],
                )
                return
        try:
            self._service = gateway.mesh.route(route.pick_service())
        except MeshError as exc:
            self._answer_error(exc)
            return
        if route.request_filters:
            self._task = asyncio.get_running_loop().create_task(self._filter_request())
            return
        self._proceed()

    def _proceed(self) -> None:
        """Arm the deadline and send the request on its way."""
        route, service = self._route, self._service
        assert route is not None
        assert service is not None
        timeout = route.timeout if route.timeout is not None else service.timeout
        if timeout is not None:
            self._timer = self.gateway.clock.call_later(timeout, self._timed_out)
        budget = service.retry_budget
        if budget is not None:
            budget.record_request()
        self._dispatch()

    def body(self, chunk: bytes) -> None:
        if self._done:
            return
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.head.chunked else chunk
        self._keep_for_replay(framed)
        conn = self._conn
        if conn is not None:
            self._sent_body = True
            conn.write(framed)
            if not conn.writable:
                self.client.pause_reading()
            return
        self._buffer.append(framed)
        self._buffered += len(framed)
        if self._buffered > _BUFFER_LIMIT:
            self.client.pause_reading()

    def end(self) -> None:
        self._ended = True
        if self._done or not self.head.chunked:
            return
        self._keep_for_replay(b"0\r\n\r\n")
        if self._conn is not None:
            self._conn.write(b"0\r\n\r\n")
        else:
            self._buffer.append(b"0\r\n\r\n")

    def abort(self) -> None:
        """The client went away: drop the upstream side too."""
        if self._done:
            return
        self._done = True
        self._cancel_timer()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._task is not None:
            self._task.cancel()
        if self._route is not None and self in self._route.waiting:
            self._route.waiting.remove(self)
        self._drop_conn()
        self._settle(cancelled=True)
        self._status = None
        self._count()

    def client_writable(self, writable: bool) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            if writable:
                conn.transport.resume_reading()
            else:
                conn.transport.pause_reading()

    # -- the upstream's side (ResponseSink) --------------------------------------------------
    def response_head(self, head: ResponseHead) -> None:
        if self._done:
            return
        retry_after = None
        if head.status in (429, 503):
            for name, value in head.headers:
                if name == b"retry-after":
                    retry_after = parse_retry_after(value.decode("latin-1"))
        self._status = head.status
        self._settle(status=head.status, retry_after=retry_after)
        upgrade = self.head.extra.get("upgrade")
        if head.status == 101 and isinstance(upgrade, bytes):
            self._open_tunnel(head, upgrade)
            return
        if (
            head.status in _RETRY_STATUSES
            and retry_after is None  # an upstream asking for time is not asked again at once
            and self._may_retry(stale=False)
        ):
            self._drop_conn()  # its answer is not wanted: the connection goes with it
            self._dispatch()
            return
        headers = [*head.headers, (b"x-request-id", self._request_id)]
        route = self._route
        if route is not None and (route.remove_response_headers or route.add_response_headers):
            removed = route.remove_response_headers
            headers = [(k, v) for k, v in headers if k not in removed]
            headers += route.add_response_headers
        self._started_response = True
        if route is not None and route.response_filters:
            self._hold = []  # body bytes wait until the filters have decided on the head
            if self._conn is not None:
                self._conn.transport.pause_reading()
            self._task = asyncio.get_running_loop().create_task(
                self._filter_response(head, headers)
            )
            return
        self._prepare_head(head, headers)

    def _prepare_head(self, head: ResponseHead, headers: list[tuple[bytes, bytes]]) -> None:
        """Frame the response head for the client; it goes out with the first body bytes."""
        request = self.head
        no_body = (
            request.method == b"HEAD"
            or head.status in _NO_BODY_STATUSES
            or 100 <= head.status < 200
        )
        length = None if head.chunked else head.content_length
        http10 = request.version == "1.0"
        self._out_chunked = length is None and not no_body and not http10
        self._pending_head = response_head_bytes(
            head.status,
            headers,
            content_length=length,
            keep_alive=self._keep_alive() and not (http10 and length is None),
            no_body=no_body,
            close_delimited=http10 and length is None,
        )

    def response_body(self, chunk: bytes) -> None:
        if self._done:
            return
        if self._hold is not None:
            self._hold.append(chunk)
            return
        data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self._out_chunked else chunk
        if self._pending_head:
            data = self._pending_head + data  # head and first bytes in one write
            self._pending_head = b""
        self.client.write(data)
        if not self.client.writable and self._conn is not None:
            self._conn.transport.pause_reading()

    def response_end(self, keep_alive: bool) -> None:
        if self._done:
            return
        if self._hold is not None:
            self._held_end = keep_alive
            return
        tail = b"0\r\n\r\n" if self._out_chunked else b""
        self.client.write(self._pending_head + tail)
        self._pending_head = b""
        conn, pool = self._conn, self._pool
        self._conn = None
        if conn is not None and pool is not None:
            pool.release(conn, reusable=keep_alive and self._ended)
        self._finish(self._keep_alive())

    def upstream_failed(self, error: UpstreamError, *, stale: bool) -> None:
        if self._done:
            return
        conn, pool = self._conn, self._pool
        self._conn = None
        if conn is not None and pool is not None:
            pool.release(conn, reusable=False)
        if self._started_response:
            self._done = True
            self._cancel_timer()
            self._status = None  # cut short: counted as an error
            self._count()
            self.client.close()  # the response is cut: the client must see it
            self.client.finished(keep_alive=False)
            return
        if stale:
            self._settle(cancelled=True)  # the endpoint did nothing wrong
        else:
            self._settle(error=ErrorKind.RESET)
        if self._may_retry(stale=stale):
            self._dispatch()
        else:
            self._answer_error(error)

    def upstream_writable(self, writable: bool) -> None:
        if writable:
            self.client.resume_reading()
        else:
            self.client.pause_reading()

    # -- internals ---------------------------------------------------------------------------
    def _dispatch(self) -> None:
        service = self._service
        assert service is not None
        self._attempts += 1
        try:
            self._lease = lease = service.lease(self._hash_key())
        except MeshError as exc:
            self._answer_error(exc)
            return
        instance = lease.endpoint.payload
        self._pool = pool = self.gateway.pool(instance.host, instance.port)
        conn = pool.take_idle()
        if conn is not None:
            self._attach(conn)
            return
        task = asyncio.get_running_loop().create_task(pool.open())
        self._connecting = task
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[UpstreamConnection]) -> None:
        self._connecting = None
        if task.cancelled() or self._done:
            if not task.cancelled() and task.exception() is None and self._pool is not None:
                self._pool.release(task.result(), reusable=False)
            return
        error = task.exception()
        if error is None:
            self._attach(task.result())
            return
        kind = ErrorKind.TIMEOUT if isinstance(error, UpstreamTimeout) else ErrorKind.CONNECT_FAILED
        self._settle(error=kind)
        if isinstance(error, MeshError) and self._may_retry(stale=True):
            self._dispatch()
        elif isinstance(error, MeshError):
            self._answer_error(error)
        else:
            _log.error("connecting upstream failed: %r", error)
            self._answer(502, "bad gateway")

    def _attach(self, conn: UpstreamConnection) -> None:
        self._conn = conn
        route = self._route
        assert route is not None
        assert self._lease is not None
        head = self.head
        conn.begin(self, head_only=head.method == b"HEAD")
        instance = self._lease.endpoint.payload
        extra = self.gateway.forwarding(head, self.client.peer, self._request_id)
        if route.remove_request_headers and not head.extra.get("rewritten"):
            removed = route.remove_request_headers
            head.headers = [(k, v) for k, v in head.headers if k not in removed]
            head.extra["rewritten"] = True
        data = request_head_bytes(
            head,
            target=route.upstream_target(head),
            host=route.rewrite_host or head.host or instance.address.encode(),
            extra=[*extra, *route.add_request_headers] if route.add_request_headers else extra,
        )
        if self._sent_body and self._replay is not None:
            data += b"".join(self._replay)  # a retry: the body so far, again
        elif self._buffer:
            data += b"".join(self._buffer)
            self._sent_body = True
        if self._buffer:
            self._buffer.clear()
            self._buffered = 0
            self.client.resume_reading()
        conn.write(data)

    def _keep_for_replay(self, framed: bytes) -> None:
        replay = self._replay
        if replay is not None:
            self._replay_size += len(framed)
            if self._replay_size > _REPLAY_LIMIT:
                self._replay = None  # too big to hold: this request is not retried
            else:
                replay.append(framed)

    def _may_retry(self, *, stale: bool) -> bool:
        service = self._service
        if service is None or self._attempts >= max(service.max_attempts, 2 if stale else 1):
            return False
        if self._sent_body and self._replay is None:
            return False  # a body too big to keep cannot be sent again
        route = self._route
        may_repeat = route is not None and route.retry_non_idempotent
        if self.head.method not in _IDEMPOTENT and not stale and not may_repeat:
            return False  # a POST might have taken effect: not repeated unless the route says
        budget = service.retry_budget
        return stale or budget is None or budget.try_spend()

    def _settle(
        self,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        error: ErrorKind | None = None,
        cancelled: bool = False,
    ) -> None:
        lease, self._lease = self._lease, None
        if lease is not None and self._service is not None:
            latency = self._service.settle(
                lease, status=status, retry_after=retry_after, error=error, cancelled=cancelled
            )
            stats = lease.endpoint.stats
            if stats is None:
                stats = lease.endpoint.stats = RequestStats()
            stats.record(None if error is not None or cancelled else status, latency)

    def _timed_out(self) -> None:
        self._timer = None
        if self._done:
            return
        if self._connecting is not None:
            self._connecting.cancel()
        self._drop_conn()
        self._settle(error=ErrorKind.TIMEOUT)
        if self._started_response:
            self._done = True
            self._status = None  # cut short: counted as an error
            self._count()
            self.client.close()
            self.client.finished(keep_alive=False)
        else:
            self._answer(504, "upstream timeout")

    def _finish(self, keep_alive: bool) -> None:
        self._done = True
        self._cancel_timer()
        self._count()
        self.client.finished(keep_alive=keep_alive)

    def _count(self) -> None:
        """Record the request in its route's statistics (once, however it ended)."""
        route = self._route
        if route is not None and self._t0:
            stats = route.stats
            stats.in_flight -= 1
            stats.record(self._status, self.gateway.clock.monotonic() - self._t0)
            self._t0 = 0.0
            while route.waiting:  # a slot is free: the longest waiting request takes it
                waiting = route.waiting.popleft()
                if not waiting._done:
                    waiting._cancel_timer()
                    waiting._admitted()
                    break

    def _wait_over(self) -> None:
        """Queued at the route's bulkhead for ``max_queue_wait`` without a slot."""
        self._timer = None
        route = self._route
        if route is not None and self in route.waiting:
            route.waiting.remove(self)
        self._answer(503, "too many requests in flight", retry_after=1.0)

    def _keep_alive(self) -> bool:
        return self.head.keep_alive and not self.gateway.server.draining

    def _drop_conn(self) -> None:
        conn, pool = self._conn, self._pool
        self._conn = None
        if conn is not None and pool is not None:
            pool.release(conn, reusable=False)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _hash_key(self) -> bytes:
        """The consistent-hashing key: the client's address (affinity per client); the other
        algorithms ignore it."""
        return self.client.peer.encode()
