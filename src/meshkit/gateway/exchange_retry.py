"""One request's attempts at its service: the endpoint it holds, the ones it tried, and
whether (and when) it goes again.

The exchange's collaborator for phases 4 and 5 (see :mod:`~meshkit.gateway.filter_chain`):
it leases endpoints from the service's route (the engine both faces share,
:mod:`~meshkit.upstreams.service_route`), settles each lease with its outcome (so the
balancer, the endpoint's breaker and outlier detection see it), and decides retries.

A retry goes to an endpoint not tried yet while there is one (Envoy's previous-hosts
predicate). What may be retried: a connect failure, a reused connection the upstream had
closed (*stale*: always once more, the request never reached it), or a 502/503/504 answer
without ``Retry-After``; for idempotent methods (or any method where the route says
``retry_non_idempotent``), and for bodies up to 64 KiB, which are kept while they go out so
that they can be sent again. How many attempts, how long between them, and whether the
service's retry budget allows one is the library's :class:`~meshkit.resilience.Retry`
decision, the same one the in-process client uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from meshkit.errors import BulkheadFull, MeshError, UpstreamTimeout
from meshkit.health.outlier import ErrorKind
from meshkit.observability.stats import stats_of

if TYPE_CHECKING:
    from meshkit.balancing import Endpoint
    from meshkit.clock import Clock, TimerHandle
    from meshkit.gateway.http1 import RequestHead
    from meshkit.gateway.outgoing import OutgoingBody
    from meshkit.gateway.router import Route
    from meshkit.gateway.upstream import EndpointPool
    from meshkit.upstreams.service_route import Lease, ServiceRoute

__all__ = ["RetryState"]

_IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})


class RetryState:
    """The attempts of one request (see the module docstring)."""

    __slots__ = ("_endpoint", "_lease", "_started", "_then", "_timer", "_tried", "attempts",
                 "pool", "service")  # fmt: skip

    def __init__(self) -> None:
        self.service: ServiceRoute | None = None
        self.pool: EndpointPool | None = None  # the leased endpoint's connections
        self.attempts = 0
        self._lease: Lease | None = None
        self._endpoint: Endpoint | None = None  # the one leased last
        self._tried: list[Endpoint] | None = None  # the ones before (on a retry)
        self._timer: TimerHandle | None = None  # a backoff before the next attempt
        self._then: Callable[[], None] | None = None  # ... and what follows it
        self._started = 0.0

    @property
    def service_name(self) -> str:
        return self.service.name if self.service is not None else ""

    def first_attempt(self, now: float) -> None:
        """The request goes upstream for the first time: it counts in the retry budget."""
        self._started = now
        service = self.service
        if service is not None and service.retry_budget is not None:
            service.retry_budget.record_request()

    def lease(self, key: bytes) -> Endpoint:
        """The next attempt's endpoint (one not tried yet, on a retry, while there is one)."""
        service = self.service
        assert service is not None
        if self.attempts and self._endpoint is not None:
            if self._tried is None:
                self._tried = []
            self._tried.append(self._endpoint)
        self.attempts += 1
        lease = service.lease(key, self._tried)
        self._lease = lease
        self._endpoint = endpoint = lease.endpoint
        return endpoint

    def address(self) -> bytes:
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
        """Report how the attempt on the leased endpoint ended (once; later calls do nothing)."""
        lease, self._lease = self._lease, None
        service = self.service
        if lease is not None and service is not None:
            latency = service.settle(
                lease, status=status, retry_after=retry_after, error=error, cancelled=cancelled
            )
            stats_of(lease.endpoint).record(
                None if error is not None or cancelled else status, latency
            )

    def connect_failed(self, error: MeshError) -> None:
        """Opening a connection to the leased endpoint failed with ``error``."""
        if isinstance(error, BulkheadFull):
            self.settle(cancelled=True)  # the gateway's own pool is full, not the endpoint
        elif isinstance(error, UpstreamTimeout):
            self.settle(error=ErrorKind.TIMEOUT)
        else:
            self.settle(error=ErrorKind.CONNECT_FAILED)

    def next_delay(
        self, head: RequestHead, body: OutgoingBody | None, *, stale: bool, route: Route | None
    ) -> float | None:
        """Seconds before the next attempt, or ``None``: no retry (answer the failure).
        ``stale``: the attempt failed on a reused connection before the upstream saw it."""
        service = self.service
        if service is None or self.attempts >= max(service.max_attempts, 2 if stale else 1):
            return None
        if body is not None and not body.replayable:
            return None  # a body too big to keep cannot be sent again
        may_repeat = route is not None and route.retry_non_idempotent
        if head.method not in _IDEMPOTENT and not stale and not may_repeat:
            return None  # a POST might have taken effect: not repeated unless the route says
        if stale:
            return 0.0  # the request never reached the upstream: again at once, free
        budget = service.retry_budget
        return 0.0 if budget is None or budget.try_spend() else None

    def wait(self, clock: Clock, delay: float, then: Callable[[], None]) -> None:
        """Call ``then`` after ``delay`` seconds (a backoff), unless cancelled first."""
        self._then = then
        self._timer = clock.call_later(delay, self._waited)

    def _waited(self) -> None:
        self._timer = None
        then, self._then = self._then, None
        if then is not None:
            then()

    def cancel(self) -> None:
        """The request is over: a pending backoff never fires."""
        self._then = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
