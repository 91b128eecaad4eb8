"""Smooth weighted round robin, with a pick cost that does not grow with the endpoints.

nginx's smooth WRR gives every endpoint exactly its weight's share of each cycle of
``W = sum(weights)`` picks, interleaved rather than in runs — but costs O(n) per pick. This
picker keeps both properties by earliest-deadline-first scheduling (as Envoy's weighted round
robin does) over *weight classes*: the endpoints that share a weight ``w`` form one class of
``m`` members and total weight ``m x w``; class ``c`` is due at virtual times
``(k - 1/2) / (m_c x w_c)`` for k = 1, 2, ...; a heap yields the earliest due class, which
serves its members in turn. Services have few distinct weights, so the heap is tiny and a
pick costs about the same for 10 endpoints or 10,000.

Why it is exact: within one cycle (virtual time 0..1) class ``c`` is due exactly
``m_c x w_c`` times, since ``(k - 1/2) / T < 1`` if and only if ``k <= T``; its members take
those picks in rotation, so each gets exactly ``w`` — and so in every later cycle. The half
period offset interleaves light classes with heavy ones (weights 5, 1, 1 give
``a b a a a c a``; nginx gives ``a a b a c a a``: the same counts, an equally smooth order).
Ties go to the class seen first. After a rebuild every class starts a fresh cycle.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from meshkit.balancing.endpoint import Endpoint

__all__ = ["SmoothWeightedRoundRobin"]


class SmoothWeightedRoundRobin:
    """Each endpoint gets exactly its weight's share of every cycle, interleaved."""

    __slots__ = ("_heap", "_members", "_next", "_period")
    name = "weighted_round_robin"

    def __init__(self) -> None:
        self._members: list[tuple[Endpoint, ...]] = []
        self._next: list[int] = []
        self._period: list[float] = []
        self._heap: list[tuple[float, int]] = []

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None:
        classes: dict[float, list[Endpoint]] = {}
        for endpoint, weight in zip(endpoints, weights, strict=True):
            classes.setdefault(weight, []).append(endpoint)
        self._members = [tuple(members) for members in classes.values()]
        self._period = [1.0 / (w * len(m)) for w, m in classes.items()]
        self._next = [0] * len(self._members)
        self._heap = [(0.5 * period, index) for index, period in enumerate(self._period)]
        heapq.heapify(self._heap)

    def pick(self, key: bytes | None = None) -> Endpoint:
        heap = self._heap
        due, index = heap[0]
        heapq.heapreplace(heap, (due + self._period[index], index))
        members = self._members[index]
        turn = self._next[index]
        self._next[index] = turn + 1 if turn + 1 < len(members) else 0
        return members[turn]
