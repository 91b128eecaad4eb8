"""The sliding window log: exact counting over the last ``window`` seconds.

Theory of operation
-------------------
Every admitted request is logged with the time it stops counting (``now + window``) and the
running total of units charged so far. The units still counting at ``now`` are those whose
expiry is later than ``now``; since expiries are appended in order, the live entries are a
suffix of the log, found by bisection (``O(log n)``) from the first live entry ``head``.

Keeping *running totals* rather than per-request costs makes every question one subtraction or
one bisection: units in use are ``charged - released`` (``released`` being the running total at
the last expired entry), and a refused request can pass once the first entry whose running
total covers the shortfall has expired. Expired entries are dropped in bulk once they make up
half the log, so each entry is appended and deleted once: amortised ``O(1)`` memory work.

Memory is one entry per admitted request still inside the window: at most ``limit`` entries.
This is the algorithm to pick when exactness matters and limits are modest; the sliding window
counter approximates it with two integers.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from meshkit import _validate
from meshkit.ratelimit._decision import Decision
from meshkit.ratelimit.algorithm import check_cost, decision

__all__ = ["SlidingWindowLog"]

_COMPACT_AFTER = 32
"""Dead entries tolerated before compaction is considered (avoids churning tiny logs)."""


class SlidingWindowLog:
    """Up to ``limit`` units in any ``window`` seconds, counted exactly."""

    __slots__ = ("_charged", "_expiries", "_head", "_limit", "_released", "_totals", "_window")

    def __init__(self, limit: int, window: float) -> None:
        _validate.integer("limit", limit, 1)
        _validate.finite_positive("window", window)
        self._limit = limit
        self._window = float(window)
        self._expiries: list[float] = []  # when each logged request stops counting
        self._totals: list[int] = []  # units charged up to and including each request
        self._head = 0  # first entry that may still count
        self._charged = 0  # units charged, ever
        self._released = 0  # units of the entries before _head

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def window(self) -> float:
        return self._window

    @property
    def full_reset_time(self) -> float:
        return self._window

    def acquire(self, now: float, cost: int = 1) -> Decision:
        expiries = self._expiries
        head = bisect_right(expiries, now, self._head)
        if head != self._head:
            self._expire(head)
        used = self._charged - self._released
        if cost > 0 and used + cost <= self._limit:
            expiry = now + self._window
            if expiries and expiries[-1] > expiry:  # a clock step back: keep the log sorted
                expiry = expiries[-1]
            self._charged += cost
            expiries.append(expiry)
            self._totals.append(self._charged)
            return decision(True, self._limit, self._limit - used - cost, expiry - now, 0.0)
        return self._refusal(now, self._head, self._released, cost)

    def peek(self, now: float, cost: int = 1) -> Decision:
        head = bisect_right(self._expiries, now, self._head)
        released = self._totals[head - 1] if head > self._head else self._released
        used = self._charged - released
        if cost > 0 and used + cost <= self._limit:
            reset_after = self._expiries[-1] - now if used else 0.0
            return decision(True, self._limit, self._limit - used, reset_after, 0.0)
        return self._refusal(now, head, released, cost)

    def _expire(self, head: int) -> None:
        self._released = self._totals[head - 1]
        if head >= _COMPACT_AFTER and 2 * head >= len(self._expiries):
            del self._expiries[:head]
            del self._totals[:head]
            head = 0
        self._head = head

    def _refusal(self, now: float, head: int, released: int, cost: int) -> Decision:
        check_cost(cost)
        used = self._charged - released
        reset_after = self._expiries[-1] - now if used else 0.0
        if cost > self._limit:
            retry_after = math.inf
        else:
            # The first entry whose running total frees enough units for this request.
            shortfall = used + cost - self._limit
            freeing = bisect_left(self._totals, released + shortfall, head)
            retry_after = self._expiries[freeing] - now
        return decision(False, self._limit, self._limit - used, reset_after, retry_after)

    def __repr__(self) -> str:
        return f"SlidingWindowLog(limit={self._limit!r}, window={self._window!r})"
