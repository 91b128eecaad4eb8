"""The upstream side of one request: phases 4 to 6 (see :mod:`~meshkit.gateway.filter_chain`).

An :class:`UpstreamCall` belongs to one :class:`~meshkit.gateway.exchange.Exchange` (as an
Envoy router filter has its upstream request): it leases endpoints from the service's route —
the engine both faces share (:mod:`~meshkit.upstreams.service_route`): balancer, endpoint
breakers, outlier detection — takes or opens a pooled connection, sends the request, settles
each lease with its outcome (a retryable status at once, before the next lease; any other
right after the answer's head is written to the client, off the client's wait), decides
retries, and relays the answer: its head through the route's response filters, framed for
the client (:mod:`~meshkit.gateway.response_framing`) and held until the first
body bytes so a small answer leaves in one write; the body re-framed as needed, each side
pausing the other's reading while its own socket is full. A ``101`` to an upgrade request
makes a :class:`~meshkit.gateway.tunnel.Tunnel`; one nobody asked for is refused (502). The
exchange keeps the state; this object moves it along the same table.

Retries go to an endpoint not tried yet while there is one (Envoy's previous-hosts predicate).
What may be retried: a connect failure, a reused connection the upstream had closed (*stale*:
once more, at once and free — the request never reached it), or a 502/503/504 answer without
``Retry-After``; for idempotent methods (or any method where the route says
``retry_non_idempotent``), and for bodies up to 64 KiB, which are kept while they go out so
that they can be sent again. Whether and when is the service's :class:`~meshkit.resilience.Retry`
(``plan``: attempts, backoff with jitter, ``Retry-After``, total time, retry budget), the one
the in-process client uses, with the same events. An attempt may have its own deadline
(``per_try_timeout``, up to the answer's head); the request's deadline is the exchange's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from meshkit.errors import BulkheadFull, MeshError, UpstreamError, UpstreamTimeout
from meshkit.gateway.exchange_state import (
    BACKING_OFF,
    CONNECTING,
    DONE,
    RESPONDING,
    RESPONSE_FILTERING,
    TUNNEL,
    WAITING,
)
from meshkit.gateway.filter_chain import PAUSED, ResponseEdit
from meshkit.gateway.http1 import request_head_bytes
from meshkit.gateway.response_framing import client_head
from meshkit.gateway.response_head import ResponseHead
from meshkit.gateway.tunnel import open_tunnel
from meshkit.gateway.upstream import BadUpstreamResponse, UpstreamConnection
from meshkit.health.outlier import ErrorKind
from meshkit.observability.stats import stats_of
from meshkit.resilience import RetryOutcome
from meshkit.upstreams.retry_after import parse_retry_after

if TYPE_CHECKING:
    from meshkit.balancing import Endpoint
    from meshkit.clock import TimerHandle
    from meshkit.gateway.exchange import Exchange
    from meshkit.gateway.upstream import EndpointPool
    from meshkit.upstreams.service_route import Lease, ServiceRoute

__all__ = ["UpstreamCall"]

_log = logging.getLogger("meshkit.gateway")
_IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
_RETRY_STATUSES: Final = frozenset({502, 503, 504})


class HeldResponse:
    """A response head waiting for a paused response filter, and the body bytes meanwhile."""

    __slots__ = ("chunks", "edit", "end", "head", "next_filter")

    def __init__(self, head: ResponseHead, edit: ResponseEdit) -> None:
        self.head = head
        self.edit = edit
        self.next_filter = 0
        self.chunks: list[bytes] = []
        self.end: bool | None = None  # the response's end, once it came (its keep-alive)


class UpstreamCall:
    """See the module docstring. It keeps no reference to its exchange (which would make a
    reference cycle per request, left to the garbage collector): the exchange passes itself."""

    def __init__(self) -> None:
        self.service: ServiceRoute | None = None
        self.conn: UpstreamConnection | None = None
        self.attempts = 0
        self._pool: EndpointPool | None = None  # the leased endpoint's connections
        self._connecting: asyncio.Task[UpstreamConnection] | None = None
        self._lease: Lease | None = None
        self._endpoint: Endpoint | None = None  # the one leased last
        self._tried: list[Endpoint] | None = None  # the ones before (on a retry)
        self._backoff: TimerHandle | None = None  # before the next attempt
        self._try_timer: TimerHandle | None = None  # this attempt's per-try timeout
        self._started = 0.0  # when the first attempt started (the retry's total time)
        self._previous: float | None = None  # the last backoff (decorrelated jitter grows)
        self._held: HeldResponse | None = None  # while response filters work
        self._chunked = False  # the body goes to the client re-framed in chunks
        self._pending_head = b""  # the response head, sent with the first body bytes
        self._answered = 0  # the upstream's status, to settle the lease with (0: none yet)
        self._answered_retry_after: float | None = None

    # -- phase 4: upstream select ------------------------------------------------------------
    def first_attempt(self, exchange: Exchange) -> None:
        """The request goes upstream for the first time: it counts in the retry budget."""
        service = self.service
        assert service is not None
        self.dispatch(exchange)  # (the request leaves first: the counting is not on its way)
        budget = service.retry_budget  # (the Retry's own budget, counted directly)
        if budget is not None:
            self._started = budget.record_request()  # (which reads the clock anyway)
        elif service.retry is not None:
            self._started = exchange.gateway.monotonic()

    def dispatch(self, exchange: Exchange) -> None:
        """Lease an endpoint and take (or open) a connection to it."""
        self._backoff = None
        exchange.enter(CONNECTING)
        service = self.service
        assert service is not None
        if self.attempts and self._endpoint is not None:  # a retry: elsewhere, if it can
            if self._tried is None:
                self._tried = []
            self._tried.append(self._endpoint)
        self.attempts += 1
        try:
            self._lease = lease = service.lease(exchange.hash_key(), self._tried)
        except MeshError as exc:
            exchange.answer_error(exc)
            return
        self._endpoint = lease.endpoint
        instance = lease.endpoint.payload
        self._pool = pool = exchange.gateway.endpoint_pool(
            service.name, lease.endpoint.id, instance.host, instance.port
        )
        conn = pool.take_idle()
        if conn is not None:
            self._attach(exchange, conn)
            return
        task = asyncio.get_running_loop().create_task(pool.open())
        self._connecting = task
        task.add_done_callback(exchange.connected)

    def connected(self, exchange: Exchange, task: asyncio.Task[UpstreamConnection]) -> None:
        """Opening a connection for this attempt ended (``task``'s outcome)."""
        self._connecting = None
        if task.cancelled() or exchange.state != CONNECTING:
            if not task.cancelled() and task.exception() is None and self._pool is not None:
                self._pool.release(task.result(), reusable=False)
            return
        error = task.exception()
        if error is None:
            self._attach(exchange, task.result())
            return
        if isinstance(error, BulkheadFull):
            self.settle(cancelled=True)  # the gateway's own pool is full, not the endpoint
        elif isinstance(error, UpstreamTimeout):
            self.settle(error=ErrorKind.TIMEOUT)
        else:
            self.settle(error=ErrorKind.CONNECT_FAILED)
        if isinstance(error, MeshError):
            self._retry_or_answer(exchange, error, stale=True)
        else:
            _log.error("connecting upstream failed: %r", error)
            exchange.answer(502, "bad gateway")

    # -- phase 5: upstream request -----------------------------------------------------------
    def _attach(self, exchange: Exchange, conn: UpstreamConnection) -> None:
        exchange.enter(WAITING)
        self.conn = conn
        route, head = exchange.route, exchange.head
        assert route is not None
        conn.begin(exchange, head_only=head.method == b"HEAD")
        service = self.service
        if service is not None and service.attempt_timeout is not None:
            seconds = service.attempt_timeout.options.seconds
            self._try_timer = exchange.gateway.clock.call_later(seconds, exchange.attempt_timed_out)
        data = request_head_bytes(
            head,
            target=route.upstream_target(head),
            host=route.rewrite_host or head.host or self._address(),
            extra=exchange.upstream_lines,
        )
        body = exchange.body_out
        if body is None:
            conn.write(data)
            return
        sent, released = body.take()
        conn.write(data + sent if sent else data)
        if released:
            exchange.client.resume_reading()

    def _address(self) -> bytes:
        """``host:port`` of the endpoint leased last (the Host of a request without one)."""
        endpoint = self._endpoint
        return endpoint.payload.address.encode() if endpoint is not None else b""

    def settle(
        self,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        error: ErrorKind | None = None,
        cancelled: bool = False,
    ) -> None:
        """Report how the attempt on the leased endpoint ended (once; later calls do nothing).
        Once the upstream has answered, its status is the verdict, whatever is said here."""
        lease, self._lease = self._lease, None
        service = self.service
        if lease is not None and service is not None:
            if self._answered:
                status, retry_after = self._answered, self._answered_retry_after
                error, cancelled = None, False
            latency = service.settle(
                lease, status=status, retry_after=retry_after, error=error, cancelled=cancelled
            )
            stats_of(lease.endpoint).record(
                None if error is not None or cancelled else status, latency
            )

    def attempt_timed_out(self, exchange: Exchange) -> None:
        """This attempt's ``per_try_timeout`` passed before its answer's head came."""
        self._try_timer = None
        service = self.service
        if exchange.state != WAITING or service is None or service.attempt_timeout is None:
            return
        error = service.attempt_timeout.exceeded()
        self.drop_conn()
        self.settle(error=ErrorKind.TIMEOUT)
        self._retry_or_answer(exchange, error, stale=False)

    def _retry_or_answer(self, exchange: Exchange, error: MeshError, *, stale: bool) -> None:
        """Try again if the retry policy says so; else answer ``error``."""
        delay = self._next_delay(exchange, error, stale=stale)
        if delay is None:
            exchange.answer_error(error)
        else:
            self._retry_in(exchange, delay)

    def _next_delay(self, exchange: Exchange, outcome: object, *, stale: bool) -> float | None:
        """Seconds before the next attempt, or ``None``: no retry (answer the failure).
        ``stale``: the attempt failed on a reused connection before the upstream saw it.
        Whether the request may be sent again is decided here; whether and when it is, by the
        service's retry policy (attempts, backoff, Retry-After, total time, budget), which
        reports its decision (``RetryScheduled`` / ``RetryGaveUp``) as it does in process."""
        service = self.service
        if service is None:
            return None
        body = exchange.body_out
        if body is not None and not body.replayable:
            return None  # a body too big to keep cannot be sent again
        route = exchange.route
        may_repeat = route is not None and route.retry_non_idempotent
        if exchange.head.method not in _IDEMPOTENT and not stale and not may_repeat:
            return None  # a POST might have taken effect: not repeated unless the route says
        if stale:  # it never reached the upstream: once more, at once and free
            return 0.0 if self.attempts < max(service.max_attempts, 2) else None
        retry = service.retry
        if retry is None:
            return None
        now = exchange.gateway.monotonic()
        delay = retry.plan(self.attempts, outcome, now, started=self._started,
                           previous=self._previous)  # fmt: skip
        if delay is not None:
            self._previous = delay
        return delay

    def _retry_in(self, exchange: Exchange, delay: float) -> None:
        if delay <= 0.0:
            self.dispatch(exchange)
            return
        exchange.enter(BACKING_OFF)
        self._backoff = exchange.gateway.clock.call_later(delay, exchange.try_again)

    def cancel(self) -> None:
        """The request is over (abandoned, timed out): stop whatever is under way."""
        self._stop_try_timer()
        if self._backoff is not None:
            self._backoff.cancel()
            self._backoff = None
        if self._connecting is not None:
            self._connecting.cancel()
        self.drop_conn()

    # -- the upstream's answer (ResponseSink) --------------------------------------------------
    def response_head(self, exchange: Exchange, head: ResponseHead) -> None:
        if exchange.state != WAITING:
            return
        self._stop_try_timer()  # (the answer came: from here the request's deadline rules)
        status = head.status
        upgrade = exchange.head.upgrade
        if status == 101 and upgrade is None:
            self.settle(error=ErrorKind.RESET)  # a protocol switch nobody asked for
            exchange.answer_error(BadUpstreamResponse("an unsolicited 101 Switching Protocols"))
            return
        retry_after = None
        if head.retry_after is not None and status in (429, 503):
            retry_after = parse_retry_after(head.retry_after.decode("latin-1"))
        exchange.status = status
        if status in _RETRY_STATUSES or status == 101:
            self.settle(status=status, retry_after=retry_after)  # (a retry leases anew)
        else:
            # Settled once the head is on its way to the client (response_body, or
            # response_end): the balancer, breaker and outlier detection hear of it a write
            # later, and the client does not wait for their bookkeeping.
            self._answered = status
            self._answered_retry_after = retry_after
        if status == 101 and upgrade is not None:
            self._open_tunnel(exchange, head, upgrade)
            return
        if status in _RETRY_STATUSES and retry_after is None:  # (asked to wait: not at once)
            outcome = RetryOutcome(f"{status} from {self._address().decode()}")
            delay = self._next_delay(exchange, outcome, stale=False)
            if delay is not None:
                self.drop_conn()  # its answer is not wanted: the connection goes with it
                self._retry_in(exchange, delay)
                return
        route = exchange.route
        assert route is not None
        if not route.chain.response:
            exchange.enter(RESPONDING)
            self._frame(exchange, head, None)  # relayed from the upstream's bytes
            return
        edit = ResponseEdit(status, [*head.headers, (b"x-request-id", exchange.request_id)])
        self._held = HeldResponse(head, edit)
        self._response_filters(exchange)

    # -- phase 6: response filters -----------------------------------------------------------
    def _response_filters(self, exchange: Exchange) -> None:
        held = self._held
        assert held is not None
        assert exchange.route is not None
        filters = exchange.route.chain.response
        while held.next_filter < len(filters):
            verdict = filters[held.next_filter].on_response(exchange, held.edit)
            held.next_filter += 1
            if verdict == PAUSED:
                if exchange.state != RESPONSE_FILTERING:
                    exchange.enter(RESPONSE_FILTERING)  # body bytes are held meanwhile
                    if self.conn is not None:
                        self.conn.transport.pause_reading()
                return
        paused = exchange.state == RESPONSE_FILTERING
        exchange.enter(RESPONDING)
        self._held = None
        held.head.status = held.edit.status
        self._frame(exchange, held.head, held.edit.headers)
        if not paused:
            return
        for chunk in held.chunks:
            self.response_body(exchange, chunk)
        if held.end is not None:
            self.response_end(exchange, held.end)
        elif self.conn is not None and not self.conn.closed:
            self.conn.transport.resume_reading()

    def resume_response(self, exchange: Exchange) -> None:
        if exchange.state == RESPONSE_FILTERING:
            self._response_filters(exchange)

    def response_failed(self, exchange: Exchange, status: int, message: str) -> None:
        if exchange.state == RESPONSE_FILTERING:
            self._held = None
            self.drop_conn()
            exchange.answer(status, message)

    def _frame(
        self, exchange: Exchange, head: ResponseHead, headers: list[tuple[bytes, bytes]] | None
    ) -> None:
        """The head for the client, sent with the first body bytes (``headers``: edited)."""
        self._pending_head, self._chunked = client_head(
            exchange.head, head, headers, keep_alive=exchange.keep_alive(),
            request_id=exchange.request_id,
        )  # fmt: skip

    def response_body(self, exchange: Exchange, chunk: bytes) -> None:
        if exchange.state != RESPONDING:
            if exchange.state == RESPONSE_FILTERING and self._held is not None:
                self._held.chunks.append(chunk)
            return
        data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self._chunked else chunk
        if self._pending_head:
            data = self._pending_head + data  # head and first bytes in one write
            self._pending_head = b""
        client = exchange.client
        client.write(data)
        if self._lease is not None:
            self.settle()  # (the upstream's answer is its verdict: see response_head)
        if not client.writable and self.conn is not None:
            self.conn.transport.pause_reading()

    def response_end(self, exchange: Exchange, keep_alive: bool) -> None:
        if exchange.state != RESPONDING:
            if exchange.state == RESPONSE_FILTERING and self._held is not None:
                self._held.end = keep_alive
            return
        tail = b"0\r\n\r\n" if self._chunked else b""
        data = self._pending_head + tail
        if data:
            exchange.client.write(data)
        self._pending_head = b""
        self.settle()  # (if no body write did)
        self._release_conn(reusable=keep_alive and exchange.request_read())
        exchange.finish(exchange.keep_alive())

    def upstream_failed(self, exchange: Exchange, error: UpstreamError, *, stale: bool) -> None:
        state = exchange.state
        if state == DONE:
            return
        self._stop_try_timer()
        self.drop_conn()
        if state == TUNNEL:
            exchange.tunnel_closed()
            return
        if state in (RESPONDING, RESPONSE_FILTERING):
            exchange.cut()
            return
        if stale:
            self.settle(cancelled=True)  # the endpoint did nothing wrong
        else:
            self.settle(error=ErrorKind.RESET)
        self._retry_or_answer(exchange, error, stale=stale)

    def upstream_writable(self, exchange: Exchange, writable: bool) -> None:
        client = exchange.client
        if writable:
            client.resume_reading()
        else:
            client.pause_reading()

    def client_writable(self, writable: bool) -> None:
        conn = self.conn
        if conn is not None and not conn.closed:
            if writable:
                conn.transport.resume_reading()
            else:
                conn.transport.pause_reading()

    def _open_tunnel(self, exchange: Exchange, head: ResponseHead, upgrade: bytes) -> None:
        conn = self.conn
        assert conn is not None
        exchange.enter(TUNNEL)
        exchange.cancel_timer()  # a tunnel lives as long as both ends want it
        open_tunnel(exchange.client, conn, head, upgrade, exchange.request_id)

    def _stop_try_timer(self) -> None:
        if self._try_timer is not None:
            self._try_timer.cancel()
            self._try_timer = None

    # -- connections -------------------------------------------------------------------------
    def drop_conn(self) -> None:
        self._release_conn(reusable=False)

    def _release_conn(self, *, reusable: bool) -> None:
        conn, pool = self.conn, self._pool
        self.conn = None
        if conn is not None and pool is not None:
            pool.release(conn, reusable=reusable)
