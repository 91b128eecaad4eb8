"""One proxied request, from the client's head to the upstream's last byte — all callbacks.

Theory of operation
-------------------
``start`` matches a route (404 if none), leases an
endpoint from the service's route (its balancer and the endpoint's breaker: 503 with
``Retry-After`` if none can take it), and takes an idle pooled connection — or opens one,
the only step that needs a task. A client waiting with ``Expect: 100-continue`` is told to
go on only then, once the request is routed and admitted. A body up to ``request_buffer``
bytes is read whole before any of that (nginx's request buffering: a client trickling its
body holds no upstream connection); a larger one streams. Once attached, the request head
goes out, then the body as it arrives (re-framed by the gateway; buffered only while no
connection is attached). The upstream's answer comes back through
:class:`~meshkit.gateway.upstream.ResponseSink` callbacks: the head settles the lease (so
the balancer, breaker and outlier detection see the status at once) and is written to the
client together with the first body bytes; the body streams through, with each side pausing
the other's reading while its own socket is full.

Retries: a connect failure, a reused connection the upstream had closed, or a 502/503/504
answer without ``Retry-After`` is retried on a newly leased endpoint — one not tried yet for
this request while there is one (Envoy's previous-hosts predicate) — at once, while the
service's attempts and retry budget allow — for idempotent methods (or any method where the
route says ``retry_non_idempotent``), and for bodies up to 64 KiB, which are kept while they
go out so that they can be sent again. A route or service timeout is one clock timer per
request, only when configured. Every failure is answered from the gateway's error table; once
the response has started, a failure can only cut the connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from meshkit.clock import TimerHandle
from meshkit.errors import BulkheadFull, MeshError, UpstreamError, UpstreamTimeout
from meshkit.gateway.exchange_relay import Relay
from meshkit.gateway.http1 import RequestHead, request_head_bytes
from meshkit.gateway.outgoing import OutgoingBody
from meshkit.gateway.upstream import UpstreamConnection
from meshkit.health.outlier import ErrorKind
from meshkit.observability.stats import stats_of

if TYPE_CHECKING:
    from meshkit.balancing import Endpoint
    from meshkit.gateway.connection import ClientConnection
    from meshkit.gateway.gateway import Gateway
    from meshkit.gateway.router import Route
    from meshkit.gateway.upstream import EndpointPool
    from meshkit.upstreams.service_route import Lease, ServiceRoute

__all__ = ["ProxyExchange"]

_log = logging.getLogger("meshkit.gateway")
_NO_BODY_STATUSES: Final = frozenset({204, 304})
_IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
_RETRY_STATUSES: Final = frozenset({502, 503, 504})


class ProxyExchange(Relay):
    """The state of one request in the gateway; see the module docstring."""

    __slots__ = (
        "_attempts",
        "_awaiting_body",
        "_body",
        "_client",
        "_conn",
        "_connecting",
        "_done",
        "_endpoint",
        "_lease",
        "_pool",
        "_request_id",
        "_route",
        "_serial",
        "_service",
        "_t0",
        "_timer",
        "_tried",
        "client",
        "gateway",
        "head",
    )

    def __init__(self, gateway: Gateway, head: RequestHead, client: ClientConnection) -> None:
        self.gateway = gateway
        self.head = head
        self.client = client
        self._request_id = head.header(b"x-request-id") or b""
        self._serial = gateway.identities.serial()  # the unique part of this request's ids
        self._route: Route | None = None
        self._service: ServiceRoute | None = None
        self._lease: Lease | None = None
        self._pool: EndpointPool | None = None
        self._conn: UpstreamConnection | None = None
        self._connecting: asyncio.Task[UpstreamConnection] | None = None
        self._timer: TimerHandle | None = None
        # None for the common bodiless request: nothing to frame, hold or replay
        self._body = OutgoingBody(head) if head.has_body else None
        self._attempts = 0
        self._endpoint: Endpoint | None = None  # the one leased last
        self._tried: list[Endpoint] | None = None  # the ones before (on a retry)
        self._awaiting_body = False  # buffering a small body before taking a connection
        self._client: str | None = None  # the client's address, once asked (see forwarded)
        self._tunnel_open = False
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
            self._request_id = gateway.identities.request_id(self._serial)
        router = gateway.router
        route = router.match(self.head)
        if route is None:
            allowed = router.allowed(self.head)
            if allowed:
                allow = [(b"allow", b", ".join(allowed))]
                self._answer(405, "method not allowed for this route", extra=allow)
            else:
                self._answer(404, "no route")
            gateway.unrouted.record(self._status, 0.0)
            return
        self._route = route
        if route.full():
            if route.enqueue(self):
                self._timer = gateway.clock.call_later(route.max_queue_wait, self._wait_over)
            else:
                self._answer(503, "too many requests in flight", retry_after=1.0)
            return
        self._admitted()

    def _admitted(self) -> None:
        """Past the route's bulkhead: count the request and go on."""
        gateway, route = self.gateway, self._route
        assert route is not None
        self._t0 = gateway.monotonic()
        route.stats.in_flight += 1
        limiter = route.rate_limiter
        if limiter is not None:
            address = self._client_address() if route.limit_by_ip else ""  # (only if asked)
            refusal = limiter.try_admit(route.limit_key(self.head, address))
            if refusal is not None:
                self._answer(
                    429, "rate limited", retry_after=refusal.retry_after, extra=refusal.headers()
                )
                return
        try:
            self._service = gateway.mesh.route(route.pick_service(gateway.rng))
        except MeshError as exc:
            self._answer_error(exc)
            return
        if route.request_filters:
            self._task = asyncio.get_running_loop().create_task(self._filter_request())
            return
        self._proceed()

    def _proceed(self) -> None:
        """Admitted: let a waiting client send its body; read a small body whole first."""
        head, body = self.head, self._body
        if head.expect_continue:
            self.client.send_continue()
        if body is not None and not body.ended and self._buffers(body):
            self._awaiting_body = True  # end() (or a body outgrowing the buffer) goes on
            return
        self._go()

    def _buffers(self, body: OutgoingBody) -> bool:
        """Whether the body is read whole before an upstream connection is taken."""
        limit = self.gateway.listener.limits.request_buffer
        length = self.head.content_length
        return body.held <= limit if length is None else length <= limit

    def _go(self) -> None:
        """Arm the deadline and send the request on its way."""
        self._awaiting_body = False
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
        body = self._body
        if body is None or self._done:
            return
        if body.add(chunk, self._conn):
            self.client.pause_reading()
        if self._awaiting_body and not self._buffers(body):
            self._go()  # a chunked body outgrew the buffer: stream the rest

    def end(self) -> None:
        if self._body is not None:
            self._body.finish(None if self._done else self._conn)
        if self._awaiting_body and not self._done:
            self._go()

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
        if self._route is not None:
            self._route.leave_queue(self)
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

    # -- the upstream's side (ResponseSink; the relaying itself is in exchange_relay) ---------
    def upstream_failed(self, error: UpstreamError, *, stale: bool) -> None:
        if self._done:
            return
        self._drop_conn()
        if self._started_response:
            self._cut()
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
        if self._attempts and self._endpoint is not None:  # a retry: elsewhere, if it can
            if self._tried is None:
                self._tried = []
            self._tried.append(self._endpoint)
        self._attempts += 1
        try:
            self._lease = lease = service.lease(self._hash_key(), self._tried)
        except MeshError as exc:
            self._answer_error(exc)
            return
        self._endpoint = lease.endpoint
        instance = lease.endpoint.payload
        self._pool = pool = self.gateway.pool(service.name, instance.host, instance.port)
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
        if isinstance(error, BulkheadFull):
            self._settle(cancelled=True)  # the gateway's own pool is full, not the endpoint
        elif isinstance(error, UpstreamTimeout):
            self._settle(error=ErrorKind.TIMEOUT)
        else:
            self._settle(error=ErrorKind.CONNECT_FAILED)
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
        extra = self.gateway.forwarding(head, self.client, self._request_id, self._serial)
        if route.remove_request_headers and not head.rewritten:
            removed = route.remove_request_headers
            head.headers = [(k, v) for k, v in head.headers if k not in removed]
            head.rewritten = True
        data = request_head_bytes(
            head,
            target=route.upstream_target(head),
            host=route.rewrite_host or head.host or instance.address.encode(),
            extra=[*extra, route.added_request_lines] if route.added_request_lines else extra,
        )
        if self._body is None:
            conn.write(data)
            return
        body, released = self._body.take()
        conn.write(data + body if body else data)
        if released:
            self.client.resume_reading()

    def _may_retry(self, *, stale: bool) -> bool:
        service = self._service
        if service is None or self._attempts >= max(service.max_attempts, 2 if stale else 1):
            return False
        if self._body is not None and not self._body.replayable:
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
            stats_of(lease.endpoint).record(
                None if error is not None or cancelled else status, latency
            )

    def _timed_out(self) -> None:
        self._timer = None
        if self._done:
            return
        if self._connecting is not None:
            self._connecting.cancel()
        self._drop_conn()
        self._settle(error=ErrorKind.TIMEOUT)
        if self._started_response:
            self._cut()
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
            stats.record(self._status, self.gateway.monotonic() - self._t0)
            self._t0 = 0.0
            waiting = route.next_waiting()  # the freed slot goes to the longest waiting
            if waiting is not None:
                waiting._cancel_timer()
                waiting._admitted()

    def _wait_over(self) -> None:
        """Queued at the route's bulkhead for ``max_queue_wait`` without a slot."""
        self._timer = None
        if self._route is not None:
            self._route.leave_queue(self)
        self._answer(503, "too many requests in flight", retry_after=1.0)

    @property
    def gave_up(self) -> bool:
        """Answered or aborted already (a queued request that no longer wants a slot)."""
        return self._done

    def _keep_alive(self) -> bool:
        return self.head.keep_alive and not self.gateway.listener.draining

    def _cut(self) -> None:
        """The response has started and cannot be finished: close, so the client sees it."""
        self._done = True
        self._cancel_timer()
        self._status = None  # counted as an error
        self._count()
        self.client.close()
        self.client.finished(keep_alive=False)

    def _drop_conn(self) -> None:
        self._release_conn(reusable=False)

    def _release_conn(self, *, reusable: bool) -> None:
        conn, pool = self._conn, self._pool
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
        return self._client_address().encode()

    def _client_address(self) -> str:
        """The client: the socket peer, or who a trusted proxy says it forwards for."""
        address = self._client
        if address is None:
            address = self._client = self.gateway.client_address(self.head, self.client)
        return address
