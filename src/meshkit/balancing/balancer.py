"""The load balancer: the live endpoint set, who is usable, and the algorithm that picks.

Theory of operation
-------------------
Picking is the hot path; everything else is rare. So the balancer keeps a *snapshot* — the
endpoints a pick may choose and their effective weights — and rebuilds it only when something
changes: the set, an endpoint's health, an outlier ejection, a breaker opening or closing,
or (only while an endpoint ramps up) a slow-start step. ``pick`` is then one flag test and
the algorithm's O(1) / O(log n) pick.

Building the snapshot, in order:

1. *usable*: healthy, not ejected, breaker not open, weight > 0;
2. *panic*: if fewer than ``panic_threshold`` x all endpoints are usable, use every endpoint
   whose breaker is not open — a few survivors would only be crushed (Envoy's panic mode).
   The switch is exact: ``usable < threshold x total`` panics, equality does not;
3. *zone*: with ``local_zone`` set, keep to the usable local endpoints while they are not
   themselves below the panic share of the local zone;
4. *slow start*: an endpoint that joined (after the first set) or came back gets weight
   ``w x max(min_weight, (age / slow_start) ** (1 / aggression))`` until ``slow_start`` has
   passed; the hashing algorithms keep full weights (moving keys while ramping would defeat
   them).

Requests report back with ``started = start(endpoint)`` / ``finish(endpoint, started, ...)``:
the in-flight counts (and their start times) feed least-request and peak-EWMA, the latency
feeds the EWMA, and a 429/503 makes ``p2c_ewma`` avoid the endpoint until its
``Retry-After`` has passed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from meshkit.balancing.algorithm import Algorithm
from meshkit.balancing.endpoint import Endpoint
from meshkit.balancing.hashing import Maglev, RingHash
from meshkit.balancing.least_request import LeastRequest, PeakEwma
from meshkit.balancing.options import BalancerOptions, PanicModeChanged
from meshkit.balancing.simple import Random, RoundRobin, WeightedRandom
from meshkit.balancing.smooth import SmoothWeightedRoundRobin
from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import NoHealthyEndpoint
from meshkit.events import EventBus

__all__ = ["LoadBalancer", "make_algorithm"]

_PENALISING_STATUSES = frozenset({429, 503})
_RAMP_STEPS = 20  # slow-start weight updates per ramp
_REDRAWS = 5  # draws to find an endpoint a retry has not tried (Envoy suggests 3-5)
_NEVER = float("-inf")


def make_algorithm(
    options: BalancerOptions, *, clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None
) -> Algorithm:
    """The picker named by ``options.algorithm``."""
    name = options.algorithm
    if name == "round_robin":
        return RoundRobin(rng)
    if name == "weighted_round_robin":
        return SmoothWeightedRoundRobin()
    if name == "least_request":
        return LeastRequest(rng)
    if name == "random":
        return Random(rng)
    if name == "weighted_random":
        return WeightedRandom(rng)
    if name == "ring_hash":
        return RingHash(replicas=options.ring_replicas)
    if name == "maglev":
        return Maglev(table_size=options.maglev_table_size)
    return PeakEwma(rng, clock=clock, default_rtt=options.default_rtt, decay=options.ewma_decay)


class LoadBalancer:
    """Spread requests over one service's endpoints; see the module docstring."""

    __slots__ = (
        "_algorithm",
        "_clock",
        "_empty",
        "_endpoints",
        "_events",
        "_ewma",
        "_monotonic",
        "_name",
        "_next_ramp",
        "_panic",
        "_pick",
        "_ramping",
        "_ramps",
        "_started",
        "options",
    )

    def __init__(
        self,
        options: BalancerOptions | None = None,
        *,
        name: str = "balancer",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options = options if options is not None else BalancerOptions()
        self._name = name
        self._clock = clock
        self._monotonic = clock.monotonic  # read per request: the bound method, looked up once
        self._events = events
        self._algorithm = make_algorithm(options, clock=clock, rng=rng)
        self._pick = self._algorithm.pick
        self._ewma = self._algorithm if isinstance(self._algorithm, PeakEwma) else None
        self._ramps = options.slow_start > 0 and not isinstance(self._algorithm, RingHash | Maglev)
        self._endpoints: dict[str, Endpoint] = {}
        self._empty = True
        self._panic = False
        self._ramping = False
        self._next_ramp = _NEVER
        self._started = False  # endpoints of the very first set do not ramp up

    @property
    def name(self) -> str:
        return self._name

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @property
    def panic(self) -> bool:
        return self._panic

    @property
    def endpoints(self) -> list[Endpoint]:
        return list(self._endpoints.values())

    def get(self, endpoint_id: str) -> Endpoint | None:
        return self._endpoints.get(endpoint_id)

    # -- the set -----------------------------------------------------------------------------
    def set_endpoints(self, endpoints: Iterable[Endpoint]) -> None:
        """Replace the set. An id already known keeps its live state (health, in-flight,
        latency) and takes the new weight, zone and payload."""
        now = self._monotonic()
        fresh: dict[str, Endpoint] = {}
        for endpoint in endpoints:
            known = self._endpoints.get(endpoint.id)
            if known is None:
                endpoint.added_at = now if self._started else _NEVER
                fresh[endpoint.id] = endpoint
            else:
                known.weight, known.zone, known.payload = (
                    endpoint.weight,
                    endpoint.zone,
                    endpoint.payload,
                )
                fresh[endpoint.id] = known
        self._endpoints = fresh
        self._started = True
        self._rebuild()

    def add(self, endpoint: Endpoint) -> None:
        self.set_endpoints([*self._endpoints.values(), endpoint])

    def remove(self, endpoint_id: str) -> None:
        if self._endpoints.pop(endpoint_id, None) is not None:
            self._rebuild()

    # -- availability ------------------------------------------------------------------------
    def set_healthy(self, endpoint_id: str, healthy: bool) -> None:
        self._set_flag(endpoint_id, "healthy", healthy)

    def set_ejected(self, endpoint_id: str, ejected: bool) -> None:
        self._set_flag(endpoint_id, "ejected", ejected)

    def set_breaker_open(self, endpoint_id: str, is_open: bool) -> None:
        self._set_flag(endpoint_id, "breaker_open", is_open)

    def _set_flag(self, endpoint_id: str, flag: str, value: bool) -> None:
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None or getattr(endpoint, flag) == value:
            return
        was_available = endpoint.available
        setattr(endpoint, flag, value)
        if endpoint.available and not was_available:
            endpoint.added_at = self._monotonic()  # back in service: ramp up again
        self._rebuild()

    # -- the hot path ------------------------------------------------------------------------
    def pick(self, key: bytes | None = None, avoid: list[Endpoint] | None = None) -> Endpoint:
        """An endpoint for one request (``key``: the hashing key, if the algorithm hashes).

        ``avoid``: endpoints this request already tried (a retry): the pick is drawn again,
        a few times, while it lands on one of them — as Envoy's previous-hosts predicate —
        and a hashing key is varied per draw so that a ring moves on. If every draw lands
        there (one usable endpoint left), the last is returned: better than none."""
        if self._ramping and self._monotonic() >= self._next_ramp:
            self._rebuild()
        if self._empty:
            raise NoHealthyEndpoint(
                f"{self._name}: no usable endpoint among {len(self._endpoints)}",
                retry_after=self.options.no_endpoint_retry_after,
            )
        endpoint = self._pick(key)
        if avoid:
            draw = 0
            while endpoint in avoid and draw < _REDRAWS:
                draw += 1
                endpoint = self._pick((key or b"") + b"#%d" % draw)
        return endpoint

    def start(self, endpoint: Endpoint) -> float:
        """A request to ``endpoint`` began; returns its start time (pass it to ``finish``)."""
        now = self._monotonic()
        endpoint.in_flight += 1
        endpoint.pending_since += now
        return now

    def finish(
        self,
        endpoint: Endpoint,
        started: float,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        failed: bool = False,
    ) -> float:
        """The request to ``endpoint`` that began at ``started`` ended: with HTTP ``status``
        if any (``retry_after``: its Retry-After, seconds), or ``failed`` with no answer (an
        error, a timeout). Returns its latency.

        A failure's latency is only a lower bound of what the endpoint would have taken, so
        the peak-EWMA takes it ``failure_penalty`` times over."""
        now = self._monotonic()
        latency = now - started
        endpoint.in_flight -= 1
        endpoint.pending_since = endpoint.pending_since - started if endpoint.in_flight else 0.0
        if self._ewma is not None:
            sample = latency * self.options.failure_penalty if failed else latency
            self._ewma.observe(endpoint, sample, now)
            if status in _PENALISING_STATUSES:
                wait = retry_after if retry_after is not None else self.options.penalty
                endpoint.penalty_until = now + wait
        return latency

    # -- the snapshot ------------------------------------------------------------------------
    def _rebuild(self) -> None:
        options = self.options
        everyone = list(self._endpoints.values())
        usable = [e for e in everyone if e.available]
        panic = bool(everyone) and len(usable) < options.panic_threshold * len(everyone)
        if panic:
            chosen = [e for e in everyone if e.weight > 0 and not e.breaker_open]
        else:
            chosen = usable
            zone = options.local_zone
            if zone is not None:
                local = [e for e in usable if e.zone == zone]
                local_total = sum(1 for e in everyone if e.zone == zone)
                if local and len(local) >= options.panic_threshold * local_total:
                    chosen = local
        weights = self._weights(chosen)
        self._algorithm.rebuild(chosen, weights)
        self._empty = not chosen
        if panic != self._panic:
            self._panic = panic
            events = self._events
            if events is not None and events.active:
                events.publish(
                    PanicModeChanged(
                        source=self._name,
                        at=self._clock.time(),
                        panic=panic,
                        usable=len(usable),
                        total=len(everyone),
                    )
                )

    def _weights(self, chosen: list[Endpoint]) -> list[float]:
        if not self._ramps:
            self._ramping = False
            return [float(e.weight) for e in chosen]
        options = self.options
        now = self._monotonic()
        window = options.slow_start
        exponent = 1.0 / options.slow_start_aggression
        weights = []
        ramping = False
        for endpoint in chosen:
            age = now - endpoint.added_at
            if age >= window:
                weights.append(float(endpoint.weight))
                continue
            ramping = True
            factor = max(options.slow_start_min_weight, (max(age, 0.0) / window) ** exponent)
            weights.append(endpoint.weight * factor)
        self._ramping = ramping
        self._next_ramp = now + window / _RAMP_STEPS if ramping else _NEVER
        return weights

    def __repr__(self) -> str:
        return (
            f"LoadBalancer(name={self._name!r}, algorithm={self._algorithm.name}, "
            f"endpoints={len(self._endpoints)})"
        )
