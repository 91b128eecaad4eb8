from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError
from meshkit.resilience.backoff import Backoff
from meshkit.resilience.retry import Retry, RetryBudget, RetryOptions


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"ratio": -0.1}, "ratio"),
        ({"min_retries_per_second": -1}, "min_retries_per_second"),
        ({"window": 0}, "window"),
        ({"window": float("inf")}, "window"),
        ({"buckets": 0}, "buckets"),
    ],
)
def test_invalid_budget_names_the_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        RetryBudget(**options)  # type: ignore[arg-type]


def test_ratio_of_requests_plus_a_floor(clock: FakeClock) -> None:
    budget = RetryBudget(ratio=0.2, min_retries_per_second=0.5, window=10, clock=clock)
    for _ in range(100):
        budget.record_request()
    granted = sum(budget.try_spend() for _ in range(50))
    assert granted == 25  # 0.2 * 100 + 0.5 * 10
    stats = budget.stats()
    assert (stats.requests, stats.retries, stats.spent, stats.rejected) == (100, 25, 25, 25)


def test_old_requests_and_retries_slide_out(clock: FakeClock) -> None:
    budget = RetryBudget(ratio=0.5, min_retries_per_second=0, window=10, buckets=10, clock=clock)
    for _ in range(10):
        budget.record_request()
    assert sum(budget.try_spend() for _ in range(10)) == 5
    assert budget.retry_after() is None  # with a zero floor nothing ever frees up
    clock.advance(10)
    assert budget.stats().requests == 0
    assert not budget.try_spend()


def test_retry_after_says_when_a_retry_fits_again(clock: FakeClock) -> None:
    budget = RetryBudget(ratio=0, min_retries_per_second=0.1, window=10, buckets=10, clock=clock)
    assert budget.try_spend()
    clock.advance(3)
    assert not budget.try_spend()
    assert budget.retry_after() == pytest.approx(7)
    clock.advance(7)
    assert budget.try_spend()


@settings(max_examples=60, deadline=None)
@given(
    callers=st.integers(2, 30),
    fail_every=st.integers(1, 4),
    ratio=st.sampled_from([0.0, 0.1, 0.2, 0.5]),
    floor=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_budget_is_never_exceeded_under_concurrent_callers(
    callers: int, fail_every: int, ratio: float, floor: float
) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        budget = RetryBudget(ratio=ratio, min_retries_per_second=floor, window=10, clock=clock)
        retry = Retry(
            RetryOptions(
                max_attempts=4, backoff=Backoff(kind="constant", base=0.05), budget=budget
            ),
            clock=clock,
        )
        calls = 0

        async def call(i: int) -> int:
            nonlocal calls
            calls += 1
            await clock.sleep(0.01)
            if calls % fail_every == 0 or i % 3 == 0:
                raise ConnectionError("down")
            return i

        tasks = [asyncio.ensure_future(retry.execute(call, i)) for i in range(callers)]
        await clock.run_for(5.0)
        await asyncio.gather(*tasks, return_exceptions=True)
        stats = budget.stats()
        assert stats.requests == callers
        assert stats.retries == calls - callers  # every retry went through the budget
        assert stats.retries <= ratio * callers + floor * 10 + 1e-9

    asyncio.run(scenario())
