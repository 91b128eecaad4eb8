"""Round robin, random, and weighted random: the simple pickers.

Round robin starts at a random position (so balancers built at the same moment do not march
in step) and walks the snapshot. Random draws uniformly. Weighted random keeps cumulative
weights and bisects them: O(log n) per pick, exact in expectation for any weights.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence

from meshkit.balancing.endpoint import Endpoint

__all__ = ["Random", "RoundRobin", "WeightedRandom"]


class RoundRobin:
    """Each usable endpoint in turn; weights are ignored (see ``SmoothWeightedRoundRobin``)."""

    __slots__ = ("_endpoints", "_n", "_next", "_rng")
    name = "round_robin"

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._endpoints: Sequence[Endpoint] = ()
        self._n = 0
        self._next = 0

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None:
        self._endpoints = tuple(endpoints)
        self._n = len(self._endpoints)
        self._next = self._rng.randrange(self._n) if self._n else 0

    def pick(self, key: bytes | None = None) -> Endpoint:
        index = self._next
        following = index + 1
        self._next = following if following < self._n else 0
        return self._endpoints[index]


class Random:
    """A uniformly random usable endpoint."""

    __slots__ = ("_endpoints", "_n", "_random")
    name = "random"

    def __init__(self, rng: random.Random | None = None) -> None:
        self._random = (rng or random.Random()).random
        self._endpoints: Sequence[Endpoint] = ()
        self._n = 0

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None:
        self._endpoints = tuple(endpoints)
        self._n = len(self._endpoints)

    def pick(self, key: bytes | None = None) -> Endpoint:
        return self._endpoints[int(self._random() * self._n)]


class WeightedRandom:
    """A random usable endpoint, each with probability proportional to its weight."""

    __slots__ = ("_cumulative", "_endpoints", "_last", "_random", "_total")
    name = "weighted_random"

    def __init__(self, rng: random.Random | None = None) -> None:
        self._random = (rng or random.Random()).random
        self._endpoints: Sequence[Endpoint] = ()
        self._cumulative: list[float] = []
        self._total = 0.0
        self._last = 0

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None:
        self._endpoints = tuple(endpoints)
        self._cumulative = list(itertools.accumulate(weights))
        self._total = self._cumulative[-1] if self._cumulative else 0.0
        self._last = len(self._endpoints) - 1

    def pick(self, key: bytes | None = None) -> Endpoint:
        index = bisect.bisect_right(self._cumulative, self._random() * self._total)
        return self._endpoints[min(index, self._last)]  # a draw of exactly total is the last
