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
Ties go to the class seen first. A rebuild keeps how far each endpoint was into its period,
so rebuilds, however frequent (slow-start steps, health flaps), neither starve nor flood
anyone.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from meshkit.balancing.endpoint import Endpoint

__all__ = ["SmoothWeightedRoundRobin"]


class SmoothWeightedRoundRobin:
    """Each endpoint gets exactly its weight's share of every cycle, interleaved."""

    __slots__ = ("_heap", "_members", "_next", "_now", "_period")
    name = "weighted_round_robin"

    def __init__(self) -> None:
        self._members: list[tuple[Endpoint, ...]] = []
        self._next: list[int] = []
        self._period: list[float] = []
        self._heap: list[tuple[float, int]] = []
        self._now = 0.0  # virtual time: when the last pick was due

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None:
        now = self._now
        # How far through its current period each endpoint was: that share carries over.
        progress = {
            m.id: (due - now) / self._period[i] for due, i in self._heap for m in self._members[i]
        }
        classes: dict[float, list[Endpoint]] = {}
        for endpoint, weight in zip(endpoints, weights, strict=True):
            classes.setdefault(weight, []).append(endpoint)
        self._members = [tuple(members) for members in classes.values()]
        self._period = [1.0 / (w * len(m)) for w, m in classes.items()]
        self._next = [0] * len(self._members)
        # Keep each endpoint's place: a rebuild (a health flap, a slow-start step) must neither
        # push anyone's turn back nor pull it forward, or frequent rebuilds would starve or
        # flood the light endpoints. What was left of its period is kept as a share of the
        # new period; newcomers start half a period from now, as at the first build.
        heap = []
        for index, (members, period) in enumerate(zip(self._members, self._period, strict=True)):
            left = min([progress[m.id] for m in members if m.id in progress], default=0.5)
            heap.append((now + left * period, index))
        heapq.heapify(heap)
        self._heap = heap

    def pick(self, key: bytes | None = None) -> Endpoint:
        heap = self._heap
        due, index = heap[0]
        following = due + self._period[index]
        heapq.heapreplace(heap, (following, index))
        self._now = due
        members = self._members[index]
        turn = self._next[index]
        self._next[index] = turn + 1 if turn + 1 < len(members) else 0
        return members[turn]
