"""A retry budget shared by every caller of a policy (Finagle / Linkerd style).

Theory of operation
-------------------
Per-call attempt limits do not stop a retry storm: when a dependency fails, *every* call
retries, multiplying the load on the thing that is already failing. A budget bounds retries
across all calls instead: over a sliding window, retries may be at most ``ratio`` times the
logical requests, plus a floor of ``min_retries_per_second * window`` so that a quiet service
can still retry at all (Finagle ``RetryBudget``, Linkerd ``retryBudget``; defaults 20 %,
10/s, 10 s as in Linkerd).

Counting: the window is cut into ``buckets`` equal slices held in two rings (requests,
retries). ``record_request()`` — on every call's first attempt, the hot path — reads the clock
once, turns it into a slice number with one floor division and bumps one list slot; only when
the slice number changes (at most once per slice width) does it clear the slices that slid
out. The window therefore covers the current slice plus the ``buckets - 1`` before it: between
``window - window / buckets`` and ``window`` seconds.

Spending: ``try_spend()`` — once per retry, off the hot path — sums the rings and spends
only if ``retries + 1 <= ratio * requests + floor``; check and count are one step, so callers
interleaving on an event loop can never overdraw it, and a lock makes that true for threads
sharing a budget through ``execute_sync`` too. ``record_request`` takes no lock: a lost
increment under a thread race undercounts requests, which only makes the budget stricter.

A refused retry learns ``retry_after()``: how long until enough old slices slide out, with no
new requests, for one retry to fit (``None`` if none would ever fit, e.g. a zero floor).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from meshkit import _validate
from meshkit.clock import SYSTEM_CLOCK, Clock

__all__ = [
    "DEFAULT_BUDGET_BUCKETS",
    "DEFAULT_BUDGET_MIN_RETRIES_PER_SECOND",
    "DEFAULT_BUDGET_RATIO",
    "DEFAULT_BUDGET_WINDOW",
    "RetryBudget",
    "RetryBudgetStats",
]

# Linkerd's retryBudget: retries up to 20 % of the requests, 10 a second always, over 10 s.
DEFAULT_BUDGET_RATIO = 0.2
DEFAULT_BUDGET_MIN_RETRIES_PER_SECOND = 10.0
DEFAULT_BUDGET_WINDOW = 10.0
DEFAULT_BUDGET_BUCKETS = 10

_EPSILON = 1e-9  # 0.29 * 100 is 28.999999999999996 in floats; the budget means 29
_MAX_BUCKETS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryBudgetStats:
    """A snapshot: ``requests`` / ``retries`` counted in the current window, the ``available``
    retries left, and lifetime totals of retries ``spent`` and ``rejected``."""

    requests: int
    retries: int
    available: int
    spent: int
    rejected: int


class RetryBudget:
    """Allow retries up to ``ratio`` x requests over ``window`` seconds, plus a floor.

    ``ratio``: retries allowed per request (0.2 = 20 %); ``min_retries_per_second``: retries
    always allowed (the floor is this times ``window``); ``window``: seconds remembered;
    ``buckets``: slices of the window (resolution of the slide); ``clock``: time source.
    """

    __slots__ = (
        "_clock",
        "_epoch",
        "_floor",
        "_lock",
        "_n",
        "_ratio",
        "_rejected",
        "_requests",
        "_retries",
        "_slot",
        "_spent",
        "_width",
        "min_retries_per_second",
        "ratio",
        "window",
    )

    def __init__(
        self,
        *,
        ratio: float = DEFAULT_BUDGET_RATIO,
        min_retries_per_second: float = DEFAULT_BUDGET_MIN_RETRIES_PER_SECOND,
        window: float = DEFAULT_BUDGET_WINDOW,
        buckets: int = DEFAULT_BUDGET_BUCKETS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        _validate.between("ratio", ratio, 0, 1000)
        _validate.at_least("min_retries_per_second", min_retries_per_second, 0)
        _validate.positive("window", window)
        _validate.finite("window", window)
        _validate.integer("buckets", buckets, 1, _MAX_BUCKETS)
        self.ratio = float(ratio)
        self.min_retries_per_second = float(min_retries_per_second)
        self.window = float(window)
        self._ratio = self.ratio
        self._floor = self.min_retries_per_second * self.window + _EPSILON
        self._n = buckets
        self._width = self.window / buckets
        self._clock = clock
        self._requests = [0] * buckets
        self._retries = [0] * buckets
        self._epoch = clock.monotonic() // self._width  # absolute number of the current slice
        self._slot = int(self._epoch) % buckets
        self._spent = 0
        self._rejected = 0
        self._lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- the two operations ------------------------------------------------------------------
    def record_request(self) -> float:
        """Count one logical request (a call's first attempt). Returns the monotonic time it
        read, so a caller sharing this clock need not read it again."""
        now = self._clock.monotonic()
        if now // self._width != self._epoch:  # a new slice: at most once per slice width
            with self._lock:
                self._rotate(now)
        self._requests[self._slot] += 1
        return now

    def try_spend(self) -> bool:
        """Take one retry from the budget if it allows one; False (and count it) if not."""
        with self._lock:
            self._rotate(self._clock.monotonic())
            if sum(self._retries) + 1 > self._ratio * sum(self._requests) + self._floor:
                self._rejected += 1
                return False
            self._retries[self._slot] += 1
            self._spent += 1
            return True

    # -- reading -----------------------------------------------------------------------------
    @property
    def available(self) -> int:
        """Retries that ``try_spend`` would grant right now (if nothing else happens)."""
        with self._lock:
            self._rotate(self._clock.monotonic())
            return self._available()

    def stats(self) -> RetryBudgetStats:
        with self._lock:
            self._rotate(self._clock.monotonic())
            return RetryBudgetStats(
                requests=sum(self._requests),
                retries=sum(self._retries),
                available=self._available(),
                spent=self._spent,
                rejected=self._rejected,
            )

    def retry_after(self) -> float | None:
        """Seconds until one retry fits if no request arrives meanwhile (0 if one fits now;
        ``None`` if none ever would: the floor is below one retry)."""
        with self._lock:
            now = self._clock.monotonic()
            self._rotate(now)
            requests = sum(self._requests)
            retries = sum(self._retries)
            n = self._n
            # Dropping the i oldest slices happens when the slice number reaches epoch + i.
            for dropped in range(n + 1):
                if retries + 1 <= self._ratio * requests + self._floor:
                    return max(0.0, (self._epoch + dropped) * self._width - now)
                if dropped < n:
                    oldest = (self._slot + 1 + dropped) % n
                    requests -= self._requests[oldest]
                    retries -= self._retries[oldest]
            return None

    # -- internals ---------------------------------------------------------------------------
    def _available(self) -> int:
        room = self._ratio * sum(self._requests) + self._floor - sum(self._retries)
        return max(0, int(room))

    def _rotate(self, now: float) -> None:
        """Clear the slices that slid out of the window. Call with the lock held."""
        epoch = now // self._width
        steps = epoch - self._epoch
        if steps <= 0:  # another thread rotated already (or the clock stood still)
            return
        n = self._n
        if steps >= n:
            for i in range(n):
                self._requests[i] = 0
                self._retries[i] = 0
        else:
            slot = self._slot
            for _ in range(int(steps)):
                slot = (slot + 1) % n
                self._requests[slot] = 0
                self._retries[slot] = 0
        self._epoch = epoch
        self._slot = int(epoch) % n

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio:g}, min_retries_per_second="
            f"{self.min_retries_per_second:g}, window={self.window:g})"
        )
