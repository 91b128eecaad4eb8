"""Window counters: a fixed window, and Cloudflare's sliding approximation of one.

Theory of operation
-------------------
Both cut time into aligned windows ``[k * window, (k + 1) * window)`` and count the units
admitted in each.

* :class:`FixedWindow` admits up to ``limit`` units per window and forgets everything at the
  boundary. Cheap and exact per window, but a client can spend ``limit`` at the end of one
  window and ``limit`` again at the start of the next: up to twice the limit in a short span.
* :class:`SlidingWindowCounter` smooths that edge the way Cloudflare does: it estimates the
  units in the last ``window`` seconds as ``previous * (1 - elapsed / window) + current``,
  i.e. it assumes the previous window's units were spread evenly and counts the part of the
  previous window still inside the sliding one. Two integers of state per key, and the
  estimate never exceeds ``limit`` at an admission.

Refusals charge nothing; ``retry_after`` is when the same request would pass if nobody else
came: the next boundary for the fixed window; for the sliding counter, when the previous
window's share has faded enough, or — if the current window alone is too full — when the
current window, becoming the previous one, has faded enough.
"""

from __future__ import annotations

import math

from meshkit import _validate
from meshkit.ratelimit._decision import Decision
from meshkit.ratelimit.algorithm import EPSILON, check_cost, decision

__all__ = ["FixedWindow", "SlidingWindowCounter"]

_NEVER = -(2**62)
"""A window index no real time maps to: "no window seen yet"."""


class _AlignedWindows:
    """Tracks which aligned window ``now`` falls in; subclasses count inside windows."""

    __slots__ = ("_end", "_index", "_limit", "_window")

    def __init__(self, limit: int, window: float) -> None:
        _validate.integer("limit", limit, 1)
        _validate.finite_positive("window", window)
        self._limit = limit
        self._window = float(window)
        self._index = _NEVER
        self._end = -math.inf  # end of the current window: now >= _end means "move on"

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def window(self) -> float:
        return self._window

    def _advance(self, now: float) -> int:
        """Enter the window holding ``now`` (past ``_end``); return how many windows moved."""
        # The index follows from the stored end rather than from rounding alone, so a ``now``
        # a hair past a computed end never maps back into the window it just left.
        index = max(int(now // self._window), self._index + 1)
        moved = index - self._index
        self._index = index
        self._end = (index + 1) * self._window
        return moved


class FixedWindow(_AlignedWindows):
    """Up to ``limit`` units in each aligned window of ``window`` seconds."""

    __slots__ = ("_count",)

    def __init__(self, limit: int, window: float) -> None:
        super().__init__(limit, window)
        self._count = 0

    @property
    def full_reset_time(self) -> float:
        return self._window

    def acquire(self, now: float, cost: int = 1) -> Decision:
        if now >= self._end:
            self._advance(now)
            self._count = 0
        count = self._count + cost
        if cost > 0 and count <= self._limit:
            self._count = count
            return decision(True, self._limit, self._limit - count, self._end - now, 0.0)
        return self._refusal(now, self._count, cost)

    def peek(self, now: float, cost: int = 1) -> Decision:
        count = self._count if now < self._end else 0
        if cost > 0 and count + cost <= self._limit:
            reset_after = self._end - now if count else 0.0
            return decision(True, self._limit, self._limit - count, reset_after, 0.0)
        return self._refusal(now, count, cost)

    def _refusal(self, now: float, count: int, cost: int) -> Decision:
        check_cost(cost)
        # count == 0 only when cost > limit: then nothing waits to be reset.
        until_boundary = self._end - now if count else 0.0
        retry_after = math.inf if cost > self._limit else until_boundary
        return decision(False, self._limit, self._limit - count, until_boundary, retry_after)

    def __repr__(self) -> str:
        return f"FixedWindow(limit={self._limit!r}, window={self._window!r})"


class SlidingWindowCounter(_AlignedWindows):
    """Up to ``limit`` units in any ``window`` seconds, estimated from two window counts."""

    __slots__ = ("_current", "_previous")

    def __init__(self, limit: int, window: float) -> None:
        super().__init__(limit, window)
        self._current = 0
        self._previous = 0

    @property
    def full_reset_time(self) -> float:
        # Units counted in one window still weigh on the whole next one.
        return 2 * self._window

    def acquire(self, now: float, cost: int = 1) -> Decision:
        if now >= self._end:
            moved = self._advance(now)
            self._previous = self._current if moved == 1 else 0
            self._current = 0
        end = self._end
        estimate = self._previous * ((end - now) / self._window) + self._current
        if cost > 0 and estimate + cost <= self._limit + EPSILON:
            self._current += cost
            # int() truncates toward zero: EPSILON-sized negatives already read as 0.
            remaining = int(self._limit - estimate - cost + EPSILON)
            return decision(True, self._limit, remaining, end + self._window - now, 0.0)
        return self._refusal(now, self._previous, self._current, end, cost)

    def peek(self, now: float, cost: int = 1) -> Decision:
        previous, current, end = self._previous, self._current, self._end
        if now >= end:  # what _advance would do, without doing it
            index = max(int(now // self._window), self._index + 1)
            previous = current if index == self._index + 1 else 0
            current = 0
            end = (index + 1) * self._window
        estimate = previous * ((end - now) / self._window) + current
        if cost > 0 and estimate + cost <= self._limit + EPSILON:
            remaining = max(0, int(self._limit - estimate + EPSILON))
            reset_after = self._reset_after(now, previous, current, end)
            return decision(True, self._limit, remaining, reset_after, 0.0)
        return self._refusal(now, previous, current, end, cost)

    def _refusal(self, now: float, previous: int, current: int, end: float, cost: int) -> Decision:
        check_cost(cost)
        limit, window = self._limit, self._window
        if cost > limit:
            retry_after = math.inf
        elif current + cost <= limit:
            # The current window leaves room: wait until the previous window's share fades to
            # what is left. (previous > 0 here, or the estimate would have admitted.)
            retry_after = end - window * (limit - cost - current) / previous - now
        else:
            # Only once the current window is the previous one and has faded enough.
            retry_after = end + window - window * (limit - cost) / current - now
        estimate = previous * ((end - now) / window) + current
        remaining = max(0, int(limit - estimate + EPSILON))
        reset_after = self._reset_after(now, previous, current, end)
        return decision(False, limit, remaining, reset_after, retry_after)

    def _reset_after(self, now: float, previous: int, current: int, end: float) -> float:
        """Seconds until the estimate is zero: the current units weigh until the end of the
        next window, the previous ones until the end of this one."""
        if current:
            return end + self._window - now
        return end - now if previous else 0.0

    def __repr__(self) -> str:
        return f"SlidingWindowCounter(limit={self._limit!r}, window={self._window!r})"
