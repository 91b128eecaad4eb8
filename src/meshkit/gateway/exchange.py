"""One request through the gateway: its state, and the client's side of its phases.

The request takes the fixed phases documented in :mod:`~meshkit.gateway.filter_chain`
(arrive, route, request filters, upstream select, upstream request, response filters, log)
and moves through the states of :mod:`~meshkit.gateway.exchange_state`: one integer, changed
only by :meth:`Exchange.enter` along that module's table. Everything runs in callbacks (no task
per request): the client connection calls this object (a
:class:`~meshkit.gateway.request_sink.RequestSink`); the upstream connection calls its
:class:`~meshkit.gateway.upstream_call.UpstreamCall`, which does phases 4 to 6.

Theory of operation
-------------------
A matched route's bulkhead admits, queues (``max_queued``, for ``max_queue_wait``) or refuses
the request; admitted, it is counted in flight and the route's request filters run. Then a
service is picked (a weighted split draws from the gateway's random source), a client waiting
with ``Expect: 100-continue`` is told to go on — only now, once the request is routed and
admitted — and a body up to ``request_buffer`` bytes is read whole first (nginx's request
buffering: a client trickling its body holds no upstream connection); a larger one streams.
The deadline (the route's ``timeout``, else the service's) is one clock timer, only when
configured. Every failure before the response starts is answered from the gateway's error
table (:mod:`~meshkit.gateway.local_reply`); after, it can only cut the connection. However it
ended, the request is counted once, in the log phase.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from meshkit.clock import TimerHandle
from meshkit.error_table import INTERNAL_ERROR, answer_for
from meshkit.errors import MeshError, UpstreamError
from meshkit.gateway.exchange_state import (
    ALLOWED,
    BUFFERING,
    DONE,
    FILTERING,
    QUEUED,
    RECEIVED,
    RESPONDING,
    TUNNEL,
    IllegalTransition,
)
from meshkit.gateway.filter_chain import CONTINUE, PAUSED
from meshkit.gateway.filters import Reply
from meshkit.gateway.http1 import RequestHead
from meshkit.gateway.local_reply import error_answer, reply_answer
from meshkit.gateway.outgoing import OutgoingBody
from meshkit.gateway.request_sink import RequestSink
from meshkit.gateway.response_head import ResponseHead
from meshkit.gateway.upstream import ResponseSink, UpstreamConnection
from meshkit.gateway.upstream_call import UpstreamCall
from meshkit.health.outlier import ErrorKind
from meshkit.observability.stats import RequestStats
from meshkit.resilience.bulkhead.core import BulkheadCore, Waiter
from meshkit.resilience.timeout.policy import Timeout

if TYPE_CHECKING:
    from meshkit.gateway.connection import ClientConnection
    from meshkit.gateway.gateway import Gateway
    from meshkit.gateway.router import Route, Router

__all__ = ["Exchange"]

_log = logging.getLogger("meshkit.gateway")


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
        self.upstream = UpstreamCall()
        # None for the common bodiless request: nothing to frame, hold or replay
        self.body_out = OutgoingBody(head) if head.has_body else None
        self._timer: TimerHandle | None = None  # the deadline
        self._waiter: Waiter | None = None  # a place in a bulkhead's queue
        self._service_slot: BulkheadCore | None = None  # a slot of the service's bulkhead
        self._next_filter = 0  # where a paused request chain goes on
        self._task: asyncio.Task[None] | None = None  # a paused filter's work
        self._client: str | None = None  # the client's address, once asked (see forwarded)
        self._counted: RequestStats | None = None  # the route's stats, while in flight there
        self._started = 0.0  # when the route admitted it

    def enter(self, target: int) -> None:
        """Move to state ``target`` (only along the table: anything else is a bug)."""
        source = self.state
        if not ALLOWED[source] >> target & 1:
            raise IllegalTransition(source, target)
        self.state = target
        watch = self.gateway.watch_transitions
        if watch is not None:
            watch(self, source, target)

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
        bulkhead = route.bulkhead
        if bulkhead is None or self._slot(bulkhead, self.admit_from_queue):
            self._admitted()

    def _slot(self, bulkhead: BulkheadCore, then: Callable[[], None]) -> bool:
        """Take a slot of ``bulkhead`` now (True); or wait in its queue, ``then`` going on
        when a slot is handed over; or, the queue being full, answer 503."""
        if bulkhead.try_enter():
            return True
        waiter = bulkhead.queue(then, self._wait_over)
        if waiter is None:  # (the bulkhead counted and reported the refusal)
            self.answer(503, "too many requests in flight", retry_after=1.0)
        elif waiter.queued:
            self._waiter = waiter
            self.enter(QUEUED)
        return False

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
        """Queued at a bulkhead for its ``max_queue_wait`` without a slot."""
        self._waiter = None
        self.answer(503, "too many requests in flight", retry_after=1.0)

    def admit_from_queue(self) -> None:
        """The route's bulkhead hands this queued request a slot."""
        assert self.route is not None
        assert self.route.bulkhead is not None
        if self._handed(self.route.bulkhead):
            self._admitted()

    def _handed(self, bulkhead: BulkheadCore) -> bool:
        """A slot of ``bulkhead`` comes to this queued request: whether it still wants it
        (gone meanwhile, it passes the slot on to the next)."""
        self._waiter = None
        if self.state == DONE:
            bulkhead.leave()
            return False
        return True

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
            self.enter(FILTERING)
        else:
            _log.error("a request filter said it answered but did not")
            self.answer(500, "filter failed")

    def resume_request(self) -> None:
        """A paused request filter is done: the chain goes on after it."""
        if self.state == FILTERING:
            self._request_filters(self._next_filter)

    def resume_response(self) -> None:
        """A paused response filter is done: the chain goes on after it."""
        self.upstream.resume_response(self)

    def response_failed(self, status: int, message: str) -> None:
        """A response filter failed: the client gets ``status`` instead of the response."""
        self.upstream.response_failed(self, status, message)

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

    # -- phase 4: upstream select (the rest is the UpstreamCall's) ---------------------------
    def _select_upstream(self) -> None:
        gateway, route = self.gateway, self.route
        assert route is not None
        try:
            self.upstream.service = service = gateway.mesh.route(route.pick_service(gateway.rng))
        except MeshError as exc:
            self.answer_error(exc)
            return
        bulkhead = service.bulkhead  # (shared with the service's in-process callers)
        if bulkhead is None:
            self._to_upstream()
        elif self._slot(bulkhead.core, self._service_admitted):
            self._service_slot = bulkhead.core
            self._to_upstream()

    def _service_admitted(self) -> None:
        """The service's bulkhead hands this queued request a slot."""
        service = self.upstream.service
        assert service is not None
        assert service.bulkhead is not None
        if self._handed(service.bulkhead.core):
            self._service_slot = service.bulkhead.core
            self._to_upstream()

    def _to_upstream(self) -> None:
        """Admitted everywhere: let a waiting client send its body, read a small one whole,
        and go."""
        if self.head.expect_continue:
            self.client.send_continue()
        body = self.body_out
        if body is not None and not body.ended and self._buffers(body):
            self.enter(BUFFERING)  # end() (or a body outgrowing the buffer) goes on
            return
        self._go()

    def _buffers(self, body: OutgoingBody) -> bool:
        """Whether the body is read whole before an upstream connection is taken."""
        limit = self.gateway.listener.limits.request_buffer
        length = self.head.content_length
        return body.held <= limit if length is None else length <= limit

    def _go(self) -> None:
        """Arm the deadline and send the request on its way."""
        deadline = self._deadline()
        if deadline is not None:
            seconds = deadline.options.seconds
            self._timer = self.gateway.clock.call_later(seconds, self._timed_out)
        self.upstream.first_attempt(self)

    def _deadline(self) -> Timeout | None:
        """The request's deadline: the route's ``timeout``, else the service's."""
        route, service = self.route, self.upstream.service
        if route is not None and route.timeout is not None:
            return route.timeout
        return service.total_timeout if service is not None else None

    def _timed_out(self) -> None:
        self._timer = None
        deadline = self._deadline()
        if self.state == DONE or deadline is None:
            return
        upstream = self.upstream
        upstream.cancel()
        upstream.settle(error=ErrorKind.TIMEOUT)
        self.answer_error(deadline.exceeded())  # (reported as the library's timeout is)

    def attempt_timed_out(self) -> None:
        """An attempt's ``per_try_timeout`` passed (see :class:`UpstreamCall`)."""
        self.upstream.attempt_timed_out(self)

    # -- the client's side (RequestSink) -------------------------------------------------------
    def body(self, chunk: bytes) -> None:
        body = self.body_out
        if body is None or self.state == DONE:
            return
        if body.add(chunk, self.upstream.conn):
            self.client.pause_reading()
        if self.state == BUFFERING and not self._buffers(body):
            self._go()  # a chunked body outgrew the buffer: stream the rest

    def end(self) -> None:
        if self.body_out is not None:
            self.body_out.finish(None if self.state == DONE else self.upstream.conn)
        if self.state == BUFFERING:
            self._go()

    def abort(self) -> None:
        """The client went away: drop the upstream side too."""
        state = self.state
        if state == DONE:
            return
        self.enter(DONE)
        self.cancel_timer()
        if self._task is not None:
            self._task.cancel()
        if self._waiter is not None:
            self._waiter.cancel()
            self._waiter = None
        self.upstream.cancel()
        self.upstream.settle(cancelled=True)
        if state != TUNNEL:  # (a tunnel ends when either side closes: that is no failure)
            self.status = None
        self._log()

    def client_writable(self, writable: bool) -> None:
        self.upstream.client_writable(writable)

    # -- the upstream's side (ResponseSink): the UpstreamCall's ---------------------------------
    def response_head(self, head: ResponseHead) -> None:
        self.upstream.response_head(self, head)

    def response_body(self, chunk: bytes) -> None:
        self.upstream.response_body(self, chunk)

    def response_end(self, keep_alive: bool) -> None:
        self.upstream.response_end(self, keep_alive)

    def upstream_failed(self, error: UpstreamError, *, stale: bool) -> None:
        self.upstream.upstream_failed(self, error, stale=stale)

    def upstream_writable(self, writable: bool) -> None:
        self.upstream.upstream_writable(self, writable)

    def connected(self, task: asyncio.Task[UpstreamConnection]) -> None:
        """Opening an upstream connection ended (see :meth:`UpstreamCall.connected`)."""
        self.upstream.connected(self, task)

    def try_again(self) -> None:
        """A retry's backoff is over."""
        self.upstream.dispatch(self)

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
            self.cut()
            return
        self.upstream.drop_conn()
        self.upstream.settle(cancelled=True)
        keep_alive = self.keep_alive() and self.request_read()
        self.client.write(
            error_answer(status, message, self.request_id, keep_alive=keep_alive,
                         retry_after=retry_after, extra=extra)
        )  # fmt: skip
        self.status = status
        self.finish(keep_alive)

    def reply(self, reply: Reply) -> None:
        """A request filter's answer instead of the upstream's."""
        if self.state == DONE:
            return
        keep_alive = self.keep_alive() and self.request_read()
        try:
            data = reply_answer(reply, self.request_id, keep_alive=keep_alive)
        except (ValueError, UnicodeError, TypeError):
            self.answer(500, "filter failed")
            return
        self.client.write(data)
        self.status = reply.status
        self.finish(keep_alive)

    def answer_error(self, error: BaseException) -> None:
        """Answer ``error`` from the error table (its row, and the wait it asks for)."""
        answer = answer_for(error)
        if answer is INTERNAL_ERROR:
            _log.error("unexpected error %r", error)
        self.answer(answer.status, answer.message, retry_after=answer.retry_after)

    # -- phase 7: log ------------------------------------------------------------------------
    def finish(self, keep_alive: bool) -> None:
        """The response is complete: log it, and let the connection go on."""
        self.enter(DONE)
        self.cancel_timer()
        self._log()
        self.client.finished(keep_alive=keep_alive)

    def cut(self) -> None:
        """The response has started and cannot be finished: close, so the client sees it."""
        self.enter(DONE)
        self.cancel_timer()
        self.status = None  # counted as an error
        self._log()
        self.client.close()
        self.client.finished(keep_alive=False)

    def tunnel_closed(self) -> None:
        """The upstream closed its end of the tunnel: the client's goes too."""
        self.enter(DONE)
        self._log()
        self.client.close()
        self.client.finished(keep_alive=False)

    def _log(self) -> None:
        """Count the request in its route's statistics, once, however it ended."""
        stats, route = self._counted, self.route
        if stats is None or route is None:
            return  # never admitted (refused at the bulkhead, unrouted)
        self._counted = None
        # An answered request whose response was then cut still holds its lease: the
        # upstream's status is its verdict (the call says "no verdict" for the others).
        self.upstream.settle(cancelled=True)
        stats.in_flight -= 1
        stats.record(self.status, self.gateway.monotonic() - self._started)
        for log_filter in route.chain.log:
            log_filter.on_log(self)
        slot = self._service_slot
        if slot is not None:
            self._service_slot = None
            slot.leave()  # (the slot may go to a queued request, at once)
        if route.bulkhead is not None:
            route.bulkhead.leave()

    # -- shared with the upstream call and the filters ---------------------------------------
    def keep_alive(self) -> bool:
        return self.head.keep_alive and not self.gateway.listener.draining

    def request_read(self) -> bool:
        """The client's request body (if any) has been read to its end."""
        return self.body_out is None or self.body_out.ended

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def hash_key(self) -> bytes:
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
