"""One service as the caller sees it: its balancer, a breaker per endpoint, outlier detection,
and the retry, timeouts and bulkhead of its policy — each built from the options it is given
(:class:`~meshkit.upstreams.RouteOptions`, by default its service's policy's).

Theory of operation
-------------------
A call is ``[bulkhead] → [total timeout] → [retry] → [attempt timeout] → attempt``, and each
attempt is:

1. pick an endpoint (``NoHealthyEndpoint`` with ``retry_after`` if none is usable);
2. ask that endpoint's breaker (``CircuitOpen`` would be a surprise — open breakers are out
   of the pick — but a half-open breaker's probe slots can run out);
3. run the caller's function with the endpoint's :class:`~meshkit.registry.Instance`,
   counting it in flight;
4. report the outcome to the balancer (latency; 429/503 back-off), the breaker (5xx and
   errors are failures), and outlier detection (status or local error) — and turn their
   verdicts into balancer state: an opened breaker or an ejection takes the endpoint out of
   the pick, and one clock timer per such event puts it back when the break or ejection
   ends (then a half-open probe or the next detection decides) — or sooner, when an active
   health check sees the endpoint pass again after it was critical.

Retries pick again, so a retry usually lands on another endpoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from meshkit.balancing import Endpoint, LoadBalancer
from meshkit.clock import Clock
from meshkit.errors import UpstreamTimeout
from meshkit.events import EventBus
from meshkit.health import DEFAULT_OUTLIER_OPTIONS, ErrorKind, OutlierDetector, OutlierOptions
from meshkit.registry import InstanceState, Service
from meshkit.resilience import (
    Bulkhead,
    CircuitBreaker,
    CircuitState,
    Pipeline,
    Retry,
    Timeout,
    TimeoutOptions,
)
from meshkit.upstreams.route_options import RouteOptions

__all__ = ["Classifier", "Lease", "ServiceRoute"]

T = TypeVar("T")
Classifier = Callable[[Any], int | None]
"""Reads an HTTP status out of a call's result (``None``: the result has none)."""

_OPEN: Final = CircuitState.OPEN


def _timeout(
    options: TimeoutOptions | None, name: str, clock: Clock, events: EventBus | None
) -> Timeout | None:
    return Timeout(options, name=name, clock=clock, events=events) if options is not None else None


class Lease:
    """One request's hold on an endpoint: who, its breaker ticket, when it started."""

    __slots__ = ("breaker", "endpoint", "started", "ticket")

    def __init__(
        self, endpoint: Endpoint, breaker: CircuitBreaker | None, ticket: int, started: float
    ) -> None:
        self.endpoint = endpoint
        self.breaker = breaker
        self.ticket = ticket
        self.started = started


class ServiceRoute:
    """Calls to one service; built and kept current by :class:`~meshkit.ServiceMesh`."""

    def __init__(
        self,
        service: Service,
        *,
        clock: Clock,
        events: EventBus | None,
        outlier: OutlierOptions | None = DEFAULT_OUTLIER_OPTIONS,
        options: RouteOptions | None = None,
    ) -> None:
        """``options``: what to build (absent: the service's policy's, with ``outlier`` as
        the detection of a policy that sets none)."""
        self.name = service.name
        self._clock = clock
        self._monotonic = clock.monotonic  # read per request: the bound method, looked up once
        self._events = events
        if options is None:
            options = RouteOptions.of(service.policy, clock=clock, outlier=outlier)
        self.options = options
        self.balancer = LoadBalancer(
            options.balancer, name=f"balancer:{service.name}", clock=clock, events=events
        )
        self._breaker_options = options.breaker
        self._breakers: dict[str, CircuitBreaker] = {}
        self.outlier = (
            OutlierDetector(
                options.outlier, name=f"outlier:{service.name}", clock=clock, events=events
            )
            if options.outlier is not None
            else None
        )
        # When the statistical detectors next run (the mesh asks on a shared tick).
        self._next_evaluation = (
            clock.monotonic() + options.outlier.interval
            if options.outlier is not None
            else float("inf")
        )
        retry = options.retry
        # One budget per service, shared by the in-process retry and the gateway's.
        self.retry_budget = retry.budget if retry is not None else None
        self.retry = (
            Retry(retry, name=f"retry:{service.name}", clock=clock, events=events)
            if retry is not None
            else None
        )
        self.bulkhead = (
            Bulkhead(options.bulkhead, name=f"bulkhead:{service.name}", clock=clock, events=events)
            if options.bulkhead is not None
            else None
        )
        # The whole call's deadline and each attempt's: the gateway enforces them with its
        # own timers and reports through them (Timeout.exceeded), so both faces say the same.
        self.total_timeout = _timeout(options.timeout, f"timeout:{service.name}", clock, events)
        self.attempt_timeout = _timeout(
            options.attempt_timeout, f"attempt_timeout:{service.name}", clock, events
        )
        # The in-process call: bulkhead → total timeout → retry → attempt timeout → attempt
        # (Pipeline.default's order); the gateway drives the same objects without it.
        stages: list[Any] = [
            stage
            for stage in (self.bulkhead, self.total_timeout, self.retry, self.attempt_timeout)
            if stage is not None
        ]
        self._pipeline = Pipeline(*stages) if stages else None
        self.max_attempts = (retry.max_attempts or 1) if retry is not None else 1
        self.timeout = options.timeout.seconds if options.timeout is not None else None
        self.per_try_timeout = (
            options.attempt_timeout.seconds if options.attempt_timeout is not None else None
        )

    def breaker_state(self, endpoint_id: str) -> CircuitState | None:
        """The state of an endpoint's breaker (``None``: no breaker, or no call yet)."""
        breaker = self._breakers.get(endpoint_id)
        return breaker.state if breaker is not None else None

    # -- keeping current ---------------------------------------------------------------------
    def update(self, states: list[InstanceState]) -> None:
        """Make the endpoints exactly these instances, with their health."""
        self.balancer.set_endpoints(
            Endpoint(s.instance.id, weight=s.instance.weight, zone=s.instance.zone,
                     payload=s.instance)
            for s in states
        )  # fmt: skip
        for state in states:
            endpoint_id = state.instance.id
            endpoint = self.balancer.get(endpoint_id)
            recovered = endpoint is not None and not endpoint.healthy and state.is_up
            self.balancer.set_healthy(endpoint_id, state.is_up)
            if recovered:
                self._forgive(endpoint_id)
        ids = {s.instance.id for s in states}
        for gone in [i for i in self._breakers if i not in ids]:
            del self._breakers[gone]
        if self.outlier is not None:
            self.outlier.update_endpoints(ids)

    def _forgive(self, endpoint_id: str) -> None:
        """An active check saw the endpoint come back: what passive signals held against it
        (an ejection, an open breaker) ends now, as in Envoy; slow start eases it back in."""
        if self.outlier is not None:
            self.outlier.uneject(endpoint_id, self._monotonic())
        breaker = self._breakers.get(endpoint_id)
        if breaker is not None:
            breaker.reset()
        self.balancer.set_ejected(endpoint_id, False)
        self.balancer.set_breaker_open(endpoint_id, False)

    def evaluate_outliers_if_due(self, now: float) -> None:
        """Run the statistical detectors if this service's ``interval`` has passed since
        they last ran (the mesh calls this on a tick as short as the shortest interval)."""
        outlier = self.outlier
        if outlier is not None and now >= self._next_evaluation:
            self._next_evaluation = now + outlier.options.interval
            self.evaluate_outliers()

    def evaluate_outliers(self) -> None:
        if self.outlier is not None:
            for ejection in self.outlier.evaluate(self._monotonic()):
                self._take_out_until(ejection.endpoint_id, ejection.until, "ejected")

    # -- calling -----------------------------------------------------------------------------
    async def call(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        key: bytes | None = None,
        classify: Classifier | None = None,
    ) -> T:
        if self._pipeline is None:
            return await self._attempt(fn, args, kwargs, key, classify)
        result: T = await self._pipeline.execute(self._attempt, fn, args, kwargs, key, classify)
        return result

    async def _attempt(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        key: bytes | None,
        classify: Classifier | None,
    ) -> T:
        lease = self.lease(key)
        try:
            result = await fn(lease.endpoint.payload, *args, **kwargs)
        except BaseException as exc:
            if isinstance(exc, Exception):
                timed_out = isinstance(exc, UpstreamTimeout | TimeoutError)
                self.settle(
                    lease, error=ErrorKind.TIMEOUT if timed_out else ErrorKind.CONNECT_FAILED
                )
            else:
                self.settle(lease, cancelled=True)
            raise
        status = classify(result) if classify is not None else None
        self.settle(lease, status=status, retry_after=getattr(result, "retry_after", None))
        return result

    # -- the decision core (the gateway drives these directly, without a coroutine) ----------
    def lease(self, key: bytes | None = None, avoid: list[Endpoint] | None = None) -> Lease:
        """Pick an endpoint (not one in ``avoid``, a retry's earlier tries, while another is
        usable) and let its breaker admit the request (``NoHealthyEndpoint`` or
        ``CircuitOpen`` if that cannot be); counts it in flight. Always ``settle`` it."""
        endpoint = self.balancer.pick(key, avoid)
        breaker = self._breaker(endpoint.id)
        ticket = breaker.admit() if breaker is not None else 0
        return Lease(endpoint, breaker, ticket, self.balancer.start(endpoint))

    def settle(
        self,
        lease: Lease,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        error: ErrorKind | None = None,
        cancelled: bool = False,
    ) -> float:
        """Report how the leased request ended: an HTTP ``status`` (with its Retry-After),
        an ``error`` with no answer, or ``cancelled`` (no verdict for the breaker). Returns
        the request's latency."""
        endpoint, breaker = lease.endpoint, lease.breaker
        failed = error is not None or cancelled
        latency = self.balancer.finish(
            endpoint, lease.started, status=status, retry_after=retry_after, failed=failed
        )
        if cancelled:
            if breaker is not None:
                breaker.release(lease.ticket)
            return latency
        bad = error is not None or (status is not None and 500 <= status < 600)
        if breaker is not None:
            self._breaker_verdict(endpoint.id, breaker, lease.ticket, latency, failed=bad)
        if self.outlier is not None:
            self._outlier(endpoint.id, error if error is not None else (status or 200))
        return latency

    # -- verdicts ----------------------------------------------------------------------------
    def _breaker_verdict(
        self,
        endpoint_id: str,
        breaker: CircuitBreaker,
        ticket: int,
        latency: float,
        *,
        failed: bool,
    ) -> None:
        was_open = breaker.state is _OPEN
        if failed:
            breaker.record_failure(ticket, latency)
        else:
            breaker.record_success(ticket, latency)
        if was_open or breaker.state is not _OPEN:
            return
        remaining = breaker.retry_after()  # it just opened (or re-opened)
        if remaining is not None:
            self._take_out_until(endpoint_id, self._monotonic() + remaining, "breaker")

    def _outlier(self, endpoint_id: str, outcome: int | ErrorKind) -> None:
        assert self.outlier is not None
        ejection = self.outlier.record(endpoint_id, outcome, self._monotonic())
        if ejection is not None:
            self._take_out_until(endpoint_id, ejection.until, "ejected")

    def _breaker(self, endpoint_id: str) -> CircuitBreaker | None:
        options = self._breaker_options
        if options is None:
            return None
        breaker = self._breakers.get(endpoint_id)
        if breaker is None:
            breaker = self._breakers[endpoint_id] = CircuitBreaker(
                options,
                name=f"breaker:{self.name}:{endpoint_id}",
                clock=self._clock,
                events=self._events,
            )
        return breaker

    def _take_out_until(self, endpoint_id: str, until: float, flag: str) -> None:
        setter = self.balancer.set_ejected if flag == "ejected" else self.balancer.set_breaker_open
        setter(endpoint_id, True)

        def back() -> None:
            setter(endpoint_id, False)

        self._clock.call_later(max(0.0, until - self._monotonic()), back)
