"""Hypothesis properties of the pure algorithms, checked against exact (Fraction) models.

Why these are deterministic: bucket requests fall on a 1 ms grid and rates are multiples of
1/4 unit/s, so every exact bucket level is a multiple of 1/4000 unit. The float
implementations are off by ~1e-11 and forgive EPSILON = 1e-6 (at most 1e-4 over 100
requests), so their decisions equal the exact model's: a level either sits exactly on a
boundary (the model admits, EPSILON makes the floats admit) or at least 1/4000 away from it.
Window requests fall on a 1/1024 s grid and windows are multiples of 1/4 s, so window edges and
expiries are exact floats too. Requests are timed either by random gaps or exactly at / one
tick before the next moment the model says something changes, where off-by-one bugs live.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.ratelimit import (
    GCRA,
    FixedWindow,
    RateLimitAlgorithm,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)

# Slow rates make levels creep past whole units in small steps, where boundary bugs show;
# fast ones exercise large refills. 0.25 .. 1000 units/s, always a multiple of 1/4.
# Slow rates make levels creep past whole units in small steps, where boundary bugs show;
# fast ones exercise large refills. 0.25 .. 1000 units/s, always a multiple of 1/4.
QUARTER_RATES = st.one_of(st.integers(1, 40), st.integers(1, 4000)).map(lambda q: Fraction(q, 4))
BURSTS = st.integers(1, 20)
LIMITS = st.integers(1, 12)
WINDOWS = st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(3), Fraction(10)])
# How the next request is timed: after a gap of ticks (0: back to back), or exactly at / one
# tick before the next moment the exact model says something changes (where bugs hide).
MOVES = st.one_of(
    st.tuples(st.just("gap"), st.one_of(st.integers(0, 50), st.integers(0, 3000))),
    st.tuples(st.sampled_from(["at", "before"]), st.just(0)),
)
BUCKET_REQUESTS = st.lists(st.tuples(MOVES, st.integers(1, 8)), min_size=10, max_size=100)
WINDOW_REQUESTS = st.lists(st.tuples(MOVES, st.integers(1, 5)), min_size=10, max_size=100)

Move = tuple[str, int]


def timeline(
    requests: list[tuple[Move, int]], tick: Fraction, boundary: Callable[[Fraction, int], Fraction]
) -> Iterator[tuple[Fraction, int]]:
    """Yield (time, cost); ``boundary(now, cost)`` is read lazily, so it may follow state."""
    now = Fraction(0)
    for (kind, gap), cost in requests:
        if kind == "gap":
            now += gap * tick
        else:
            target = max(now, math.ceil(boundary(now, cost) / tick) * tick)
            now = target if kind == "at" else max(now, target - tick)
        yield now, cost


class ExactBucket:
    """The token bucket in exact arithmetic: the specification both buckets must meet."""

    def __init__(self, rate: Fraction, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.level, self.at = Fraction(burst), Fraction(0)

    def level_at(self, now: Fraction) -> Fraction:
        return min(Fraction(self.burst), self.level + self.rate * (now - self.at))

    def acquire(self, now: Fraction, cost: int) -> bool:
        self.level, self.at = self.level_at(now), now
        if cost > self.level:
            return False
        self.level -= cost
        return True

    def enough_at(self, now: Fraction, cost: int) -> Fraction:
        """When ``cost`` units will be there (now if they are, or if they never will be)."""
        need = min(cost, self.burst) - self.level_at(now)
        return now + max(need, Fraction(0)) / self.rate


MS = Fraction(1, 1000)
TICK = Fraction(1, 1024)


# -- (1) the token bucket's bound -------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(QUARTER_RATES, BURSTS, BUCKET_REQUESTS)
def test_bucket_never_admits_more_than_burst_plus_refill(
    rate: Fraction, burst: int, requests: list[tuple[Move, int]]
) -> None:
    bucket, exact = TokenBucket(rate=float(rate), burst=burst), ExactBucket(rate, burst)
    timed, admitted = [], []
    for now, cost in timeline(requests, MS, exact.enough_at):
        exact.acquire(now, cost)
        timed.append(now)
        admitted.append(cost if bucket.acquire(float(now), cost).allowed else 0)
    for first in range(len(timed)):
        total = 0
        for last in range(first, len(timed)):
            total += admitted[last]
            assert total <= burst + rate * (timed[last] - timed[first])


# -- (2) GCRA is the token bucket ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(QUARTER_RATES, BURSTS, BUCKET_REQUESTS, st.lists(st.booleans(), max_size=100))
def test_gcra_and_token_bucket_decide_alike_and_exactly(
    rate: Fraction, burst: int, requests: list[tuple[Move, int]], peeks: list[bool]
) -> None:
    bucket, gcra = TokenBucket(rate=float(rate), burst=burst), GCRA(rate=float(rate), burst=burst)
    exact = ExactBucket(rate, burst)
    for index, (now, cost) in enumerate(timeline(requests, MS, exact.enough_at)):
        peeking = index < len(peeks) and peeks[index]
        if peeking:
            ours, theirs = bucket.peek(float(now), cost), gcra.peek(float(now), cost)
            expected, left = cost <= exact.level_at(now), exact.level_at(now)
        else:
            ours, theirs = bucket.acquire(float(now), cost), gcra.acquire(float(now), cost)
            expected, left = exact.acquire(now, cost), exact.level
        assert ours.allowed is theirs.allowed is expected
        assert ours.remaining == theirs.remaining == math.floor(left)
        assert ours.limit == theirs.limit == burst
        assert math.isclose(ours.reset_after, theirs.reset_after, abs_tol=1e-6)
        assert ours.retry_after == theirs.retry_after or math.isclose(
            ours.retry_after, theirs.retry_after, abs_tol=1e-6
        )


# -- (3) the windows' bounds, checked against exact references ---------------------------


def next_edge(window: Fraction) -> Callable[[Fraction, int], Fraction]:
    return lambda now, cost: (math.floor(now / window) + 1) * window


@settings(max_examples=200, deadline=None)
@given(LIMITS, WINDOWS, WINDOW_REQUESTS)
def test_fixed_window_admits_at_most_limit_per_window_exactly_as_specified(
    limit: int, window: Fraction, requests: list[tuple[Move, int]]
) -> None:
    algorithm = FixedWindow(limit=limit, window=float(window))
    per_window: dict[int, int] = {}
    for now, cost in timeline(requests, TICK, next_edge(window)):
        index = math.floor(now / window)
        expected = per_window.get(index, 0) + cost <= limit
        assert algorithm.acquire(float(now), cost).allowed is expected
        if expected:
            per_window[index] = per_window.get(index, 0) + cost
    assert all(units <= limit for units in per_window.values())


@settings(max_examples=200, deadline=None)
@given(LIMITS, WINDOWS, WINDOW_REQUESTS)
def test_sliding_log_admits_at_most_limit_in_any_window_exactly_as_specified(
    limit: int, window: Fraction, requests: list[tuple[Move, int]]
) -> None:
    algorithm = SlidingWindowLog(limit=limit, window=float(window))
    admitted: list[tuple[Fraction, int]] = []

    def next_expiry(now: Fraction, cost: int) -> Fraction:
        live = [t + window for t, _ in admitted if t + window > now]
        return min(live, default=now)

    for now, cost in timeline(requests, TICK, next_expiry):
        in_window = sum(c for t, c in admitted if t + window > now)
        expected = in_window + cost <= limit
        assert algorithm.acquire(float(now), cost).allowed is expected
        if expected:
            admitted.append((now, cost))
    for end, _ in admitted:  # the bound itself, over every window ending at an admission
        assert sum(c for t, c in admitted if end - window < t <= end) <= limit


@settings(max_examples=200, deadline=None)
@given(LIMITS, WINDOWS, WINDOW_REQUESTS)
def test_sliding_counter_keeps_its_estimate_within_limit_exactly_as_specified(
    limit: int, window: Fraction, requests: list[tuple[Move, int]]
) -> None:
    algorithm = SlidingWindowCounter(limit=limit, window=float(window))
    per_window: dict[int, int] = {}

    def estimate(now: Fraction) -> Fraction:
        index = math.floor(now / window)
        overlap = 1 - (now - index * window) / window
        return per_window.get(index - 1, 0) * overlap + per_window.get(index, 0)

    for now, cost in timeline(requests, TICK, next_edge(window)):
        expected = estimate(now) + cost <= limit
        assert algorithm.acquire(float(now), cost).allowed is expected
        if expected:
            index = math.floor(now / window)
            per_window[index] = per_window.get(index, 0) + cost
            assert estimate(now) <= limit  # the bound, including this admission
            assert per_window[index] <= limit  # which also bounds each fixed window


# -- honest answers, for every algorithm --------------------------------------------------

ALGORITHMS = st.sampled_from(
    [
        lambda: TokenBucket(rate=2.5, burst=4),
        lambda: GCRA(rate=2.5, burst=4),
        lambda: SlidingWindowLog(limit=4, window=1.5),
        lambda: SlidingWindowCounter(limit=4, window=1.5),
        lambda: FixedWindow(limit=4, window=1.5),
    ]
)


@settings(max_examples=200, deadline=None)
@given(ALGORITHMS, st.lists(st.tuples(st.integers(0, 900), st.integers(1, 5)), max_size=60))
def test_refusals_charge_nothing_and_their_retry_after_is_honest(
    make: object, requests: list[tuple[int, int]]
) -> None:
    algorithm: RateLimitAlgorithm = make()  # type: ignore[operator]
    elapsed_ms = 0
    for gap, cost in requests:
        elapsed_ms += gap
        now = elapsed_ms / 1000
        before = copy.deepcopy(algorithm)
        decision = algorithm.acquire(now, cost)
        assert 0 <= decision.remaining <= decision.limit
        assert decision.reset_after >= 0
        if decision.allowed:
            assert decision.retry_after == 0.0
            continue
        assert decision == before.peek(now, cost)  # a refusal is what peeking would say
        assert decision.retry_after > 0
        if cost > algorithm.limit:
            assert decision.retry_after == math.inf
            continue
        later = copy.deepcopy(algorithm)
        assert later.acquire(now + decision.retry_after + 1e-9, cost).allowed
