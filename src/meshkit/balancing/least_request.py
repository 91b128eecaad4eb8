"""Least request with the power of two choices (P2C), and its latency-aware sibling.

``LeastRequest`` draws two *distinct* endpoints at random and takes the one with fewer
requests in flight per unit of weight. Comparing two instead of scanning all is O(1), avoids
the herd that "pick the global least" causes when many clients see the same counts, and is
almost as good (Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing").

``PeakEwma`` (Linkerd's and Finagle's latency-aware balancer) compares two endpoints by
``cost = latency * (in_flight + 1)``, where ``latency`` is a *peak*-EWMA of response times:
a slower sample replaces the average at once, a faster one only pulls it down gradually, and
with no samples it decays toward zero over ``decay`` seconds so an endpoint that was slow is
probed again eventually. Endpoints never measured cost ``default_rtt``; costs are compared
per unit of weight. Two refinements past Finagle's: the requests still in flight count with
their mean age when that exceeds the estimate (a slowdown shows before the first slow answer
returns), and a failed request's latency counts ``failure_penalty`` times over (a timeout
shows only that the endpoint takes at least that long). An endpoint that
answered 429 or 503 is avoided until its ``Retry-After`` has passed (see
:meth:`LoadBalancer.finish`), unless both candidates are so penalised.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from meshkit.balancing.endpoint import Endpoint
from meshkit.clock import SYSTEM_CLOCK, Clock

__all__ = ["LeastRequest", "PeakEwma"]


class _TwoChoices:
    __slots__ = ("_endpoints", "_n", "_random", "_weights")

    def __init__(self, rng: random.Random | None) -> None:
        self._random = (rng or random.Random()).random
        self._endpoints: Sequence[Endpoint] = ()
        self._weights: Sequence[float] = ()
        self._n = 0

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None:
        self._endpoints = tuple(endpoints)
        self._weights = tuple(weights)
        self._n = len(self._endpoints)

    def _two(self) -> tuple[int, int]:
        """Two distinct indexes, uniformly among the pairs."""
        n = self._n
        first = int(self._random() * n)
        second = int(self._random() * (n - 1))
        return first, second + 1 if second >= first else second


class LeastRequest(_TwoChoices):
    """Of two random endpoints, the one with fewer requests in flight per unit of weight."""

    __slots__ = ()
    name = "least_request"

    def __init__(self, rng: random.Random | None = None) -> None:
        super().__init__(rng)

    def pick(self, key: bytes | None = None) -> Endpoint:
        if self._n == 1:
            return self._endpoints[0]
        i, j = self._two()
        a, b = self._endpoints[i], self._endpoints[j]
        weights = self._weights
        return a if a.in_flight * weights[j] <= b.in_flight * weights[i] else b


class PeakEwma(_TwoChoices):
    """Of two random endpoints, the one with the lower peak-EWMA latency x load."""

    __slots__ = ("_clock", "_decay", "_monotonic", "default_rtt")
    name = "p2c_ewma"

    def __init__(
        self,
        rng: random.Random | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        default_rtt: float = 0.03,
        decay: float = 10.0,
    ) -> None:
        super().__init__(rng)
        self._clock = clock
        self._monotonic = clock.monotonic  # read per pick: the bound method, looked up once
        self.default_rtt = default_rtt
        self._decay = decay

    @property
    def decay(self) -> float:
        return self._decay

    def pick(self, key: bytes | None = None) -> Endpoint:
        if self._n == 1:
            return self._endpoints[0]
        i, j = self._two()
        a, b = self._endpoints[i], self._endpoints[j]
        now = self._monotonic()
        a_out = a.penalty_until > now
        if a_out != (b.penalty_until > now):  # exactly one is asking us to back off
            return b if a_out else a
        weights = self._weights  # cost per unit of weight, so slow start steers traffic too
        return a if self._cost(a, now) * weights[j] <= self._cost(b, now) * weights[i] else b

    def _cost(self, endpoint: Endpoint, now: float) -> float:
        ewma = endpoint.ewma
        if ewma <= 0.0:
            latency = self.default_rtt
        else:
            idle = now - endpoint.ewma_at
            latency = ewma * math.exp(-idle / self._decay) if idle > 0 else ewma
        pending = endpoint.in_flight
        if pending:
            # Requests still waiting already took this long on average: evidence of a slowdown
            # before any of them answers.
            waited = now - endpoint.pending_since / pending
            latency = max(latency, waited)
        return latency * (pending + 1)

    def observe(self, endpoint: Endpoint, latency: float, now: float) -> None:
        """Fold one response time into the endpoint's peak EWMA."""
        ewma = endpoint.ewma
        if ewma <= 0.0 or latency >= ewma:
            endpoint.ewma = latency  # the peak: a slower answer counts in full, at once
        else:
            weight = math.exp(-max(0.0, now - endpoint.ewma_at) / self._decay)
            endpoint.ewma = ewma * weight + latency * (1.0 - weight)
        endpoint.ewma_at = now
