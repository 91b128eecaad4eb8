from __future__ import annotations

import math

import pytest

from meshkit.errors import ConfigError
from meshkit.ratelimit import Decision, SlidingWindowLog


def test_counts_exactly_over_the_last_window() -> None:
    log = SlidingWindowLog(limit=3, window=10.0)
    assert log.acquire(0.0) == Decision(True, 3, 2, 10.0, 0.0)
    assert log.acquire(4.0) == Decision(True, 3, 1, 10.0, 0.0)
    assert log.acquire(6.0) == Decision(True, 3, 0, 10.0, 0.0)
    assert log.acquire(9.0) == Decision(False, 3, 0, 7.0, 1.0)
    # the request at 0 counts during [0, 10) and not a moment longer
    assert not log.acquire(9.999).allowed
    assert log.acquire(10.0) == Decision(True, 3, 0, 10.0, 0.0)
    assert log.acquire(13.0) == Decision(False, 3, 0, 7.0, 1.0)


def test_no_double_spend_across_a_boundary() -> None:
    log = SlidingWindowLog(limit=4, window=1.0)
    assert log.acquire(0.9, 4).allowed
    assert not log.acquire(1.1).allowed  # a fixed window would have admitted 4 more here
    assert log.acquire(1.9, 4).allowed


def test_weighted_retry_after_waits_for_enough_units_to_expire() -> None:
    log = SlidingWindowLog(limit=6, window=10.0)
    for now, cost in [(0.0, 1), (1.0, 2), (2.0, 1), (3.0, 2)]:
        assert log.acquire(now, cost).allowed
    # 6 in use; 3 wanted: the entries at 0 (1 unit) and 1 (2 units) must expire
    assert log.acquire(5.0, 3) == Decision(False, 6, 0, 8.0, 6.0)
    assert not log.acquire(10.5, 3).allowed
    assert log.acquire(11.0, 3) == Decision(True, 6, 0, 10.0, 0.0)


def test_peek_sees_expiry_without_dropping_anything() -> None:
    log = SlidingWindowLog(limit=2, window=1.0)
    log.acquire(0.0)
    log.acquire(0.5)
    full = log.peek(0.7)
    assert (full.allowed, full.remaining) == (False, 0)
    assert (full.reset_after, full.retry_after) == pytest.approx((0.8, 0.3))
    later = log.peek(1.2)
    assert (later.allowed, later.remaining) == (True, 1)
    assert later.reset_after == pytest.approx(0.3)
    assert log.peek(2.0, 2) == Decision(True, 2, 2, 0.0, 0.0)
    assert not log.acquire(0.7).allowed


def test_long_runs_stay_small_and_correct() -> None:
    log = SlidingWindowLog(limit=5, window=1.0)
    admitted: list[float] = []
    for step in range(5000):
        now = step * 0.01
        if log.acquire(now).allowed:
            admitted.append(now)
        assert len(log._expiries) - log._head <= 5  # live entries
        assert len(log._expiries) <= 2 * 32 + 5  # dead ones are compacted away
    assert len(admitted) == 5 * 50  # 5 per second, for 50 seconds, no more, no less


def test_a_clock_step_back_keeps_the_log_ordered() -> None:
    log = SlidingWindowLog(limit=3, window=1.0)
    log.acquire(5.0)
    log.acquire(4.0)  # counted until 6.0 like its predecessor, never before
    assert log.peek(5.5).remaining == 1
    assert log.peek(6.0).remaining == 3


def test_cost_above_limit_and_options() -> None:
    log = SlidingWindowLog(limit=2, window=3.0)
    assert log.acquire(0.0, 3) == Decision(False, 2, 2, 0.0, math.inf)
    assert (log.limit, log.window, log.full_reset_time) == (2, 3.0, 3.0)
    assert repr(log) == "SlidingWindowLog(limit=2, window=3.0)"
    with pytest.raises(ConfigError, match="limit"):
        SlidingWindowLog(limit=0, window=1.0)
    with pytest.raises(ConfigError, match="window"):
        SlidingWindowLog(limit=1, window=-1.0)
