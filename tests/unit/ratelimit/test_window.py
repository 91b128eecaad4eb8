from __future__ import annotations

import math

import pytest

from meshkit.errors import ConfigError
from meshkit.ratelimit import Decision, FixedWindow, SlidingWindowCounter

# -- fixed window --------------------------------------------------------------------------


def test_fixed_window_counts_per_aligned_window() -> None:
    window = FixedWindow(limit=3, window=10.0)
    assert window.acquire(1.0) == Decision(True, 3, 2, 9.0, 0.0)
    assert window.acquire(2.0, 2) == Decision(True, 3, 0, 8.0, 0.0)
    assert window.acquire(4.0) == Decision(False, 3, 0, 6.0, 6.0)
    assert window.acquire(9.999).allowed is False


def test_fixed_window_boundary_forgets_everything() -> None:
    window = FixedWindow(limit=3, window=10.0)
    assert window.acquire(9.0, 3).allowed
    # the edge the sliding algorithms exist for: twice the limit within two seconds
    assert window.acquire(10.0) == Decision(True, 3, 2, 10.0, 0.0)
    assert window.acquire(10.5, 2).allowed
    assert not window.acquire(10.5).allowed


def test_fixed_window_skipping_windows_starts_afresh() -> None:
    window = FixedWindow(limit=2, window=1.0)
    window.acquire(0.5, 2)
    assert window.acquire(7.25) == Decision(True, 2, 1, 0.75, 0.0)


def test_fixed_window_peek_across_a_boundary() -> None:
    window = FixedWindow(limit=2, window=1.0)
    window.acquire(0.5, 2)
    assert window.peek(0.75) == Decision(False, 2, 0, 0.25, 0.25)
    assert window.peek(1.0) == Decision(True, 2, 2, 0.0, 0.0)
    assert window.peek(1.0, 3) == Decision(False, 2, 2, 0.0, math.inf)
    assert window.acquire(0.75).allowed is False  # peeking ahead changed nothing


def test_fixed_window_reset_and_properties() -> None:
    window = FixedWindow(limit=5, window=2.0)
    assert window.full_reset_time == 2.0
    assert (window.limit, window.window) == (5, 2.0)
    assert repr(window) == "FixedWindow(limit=5, window=2.0)"


# -- sliding window counter ----------------------------------------------------------------


def fill(counter: SlidingWindowCounter, times: list[float]) -> None:
    for now in times:
        assert counter.acquire(now).allowed


def test_counter_within_the_first_window_is_a_plain_counter() -> None:
    counter = SlidingWindowCounter(limit=4, window=10.0)
    assert counter.acquire(2.0, 3) == Decision(True, 4, 1, 18.0, 0.0)
    assert counter.acquire(3.0) == Decision(True, 4, 0, 17.0, 0.0)
    # current window alone is full: wait until it is the previous one and faded by 1/4
    assert counter.acquire(4.0) == Decision(False, 4, 0, 16.0, 8.5)


def test_counter_weights_the_previous_window_by_its_overlap() -> None:
    counter = SlidingWindowCounter(limit=10, window=10.0)
    fill(counter, [float(t) for t in range(10)])  # 10 units in [0, 10)
    # at 12: previous weighs 10 * 0.8 = 8, so 2 more fit
    assert counter.acquire(12.0, 2) == Decision(True, 10, 0, 18.0, 0.0)
    refused = counter.acquire(12.0)
    # current + 1 = 3 <= 10: wait until 10 * (20 - t) / 10 <= 7, i.e. t = 13
    assert refused == Decision(False, 10, 0, 18.0, 1.0)
    assert counter.acquire(13.0).allowed
    assert not counter.acquire(13.0).allowed


def test_counter_retry_after_is_honest_on_both_branches() -> None:
    counter = SlidingWindowCounter(limit=6, window=1.0)
    counter.acquire(0.5, 6)
    # the current window alone is full: the answer lies in the next window
    refused = counter.acquire(0.75, 2)
    assert refused.retry_after == pytest.approx(1.0 + 1 / 3 - 0.75)
    assert not counter.acquire(0.75 + refused.retry_after - 1e-6, 2).allowed
    assert counter.acquire(0.75 + refused.retry_after + 1e-9, 2).allowed


def test_counter_forgets_after_two_windows() -> None:
    counter = SlidingWindowCounter(limit=3, window=1.0)
    counter.acquire(0.1, 3)
    late = counter.peek(1.9)  # the previous 3 weigh 0.3
    assert (late.allowed, late.remaining) == (True, 2)
    assert late.reset_after == pytest.approx(0.1)
    assert counter.peek(2.0) == Decision(True, 3, 3, 0.0, 0.0)
    assert counter.acquire(5.5, 3) == Decision(True, 3, 0, 1.5, 0.0)  # skipped windows
    assert counter.full_reset_time == 2.0


def test_counter_peek_matches_acquire_across_boundaries() -> None:
    counter = SlidingWindowCounter(limit=5, window=1.0)
    counter.acquire(0.2, 5)
    for now in (0.9, 1.2, 1.5, 1.95, 2.5):
        foretold = counter.peek(now, 2)
        assert foretold.allowed == counter.acquire(now, 2).allowed


def test_counter_estimate_never_exceeds_the_limit_at_admission() -> None:
    counter = SlidingWindowCounter(limit=4, window=2.0)
    admitted: list[float] = []
    for step in range(200):
        now = step * 0.05
        if counter.acquire(now).allowed:
            admitted.append(now)
        start = (now // 2.0) * 2.0
        previous = sum(1 for t in admitted if start - 2.0 <= t < start)
        current = sum(1 for t in admitted if start <= t <= now)
        assert previous * (1 - (now - start) / 2.0) + current <= 4 + 1e-9


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [FixedWindow, SlidingWindowCounter])
@pytest.mark.parametrize(
    ("limit", "window", "option"),
    [(0, 1.0, "limit"), (2.5, 1.0, "limit"), (1, 0.0, "window"), (1, math.inf, "window")],
)
def test_window_options_are_checked(cls: type, limit: int, window: float, option: str) -> None:
    with pytest.raises(ConfigError) as info:
        cls(limit=limit, window=window)
    assert info.value.option == option
