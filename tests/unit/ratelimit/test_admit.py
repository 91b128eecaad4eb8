"""``admit``: the token bucket's and GCRA's decision without the Decision object — it must
agree with ``acquire`` step for step — and ``RateLimiter.try_admit`` built on it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshkit.clock import FakeClock
from meshkit.events import EventBus
from meshkit.ratelimit import (
    GCRA,
    KeyedLimiter,
    Rate,
    RateLimiter,
    RateLimitOptions,
    RateLimitRejected,
    SlidingWindowCounter,
    TokenBucket,
)
from meshkit.testing import EventRecorder

steps = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=5.0), st.integers(min_value=0, max_value=6)),
    max_size=40,
)


@pytest.mark.parametrize("algorithm", [TokenBucket, GCRA])
@given(steps=steps)
def test_admit_agrees_with_acquire_step_for_step(
    algorithm: type[TokenBucket | GCRA], steps: list[tuple[float, int]]
) -> None:
    admitting, acquiring = algorithm(3.0, 4), algorithm(3.0, 4)
    now = 0.0
    for advance, cost in steps:
        now += advance
        if cost < 1:
            with pytest.raises(ValueError, match="cost"):
                acquiring.acquire(now, cost)
            assert not admitting.admit(now, cost)
            continue
        assert admitting.admit(now, cost) == acquiring.acquire(now, cost).allowed
        assert admitting.peek(now, 1) == acquiring.peek(now, 1)  # the same state after


def route_limiter(
    clock: FakeClock, events: EventBus | None = None, **options: object
) -> RateLimiter:
    burst = 2 if options.get("algorithm", "token_bucket") in ("token_bucket", "gcra") else None
    return RateLimiter(
        RateLimitOptions(rate=Rate.parse("2/second"), burst=burst, **options),  # type: ignore[arg-type]
        clock=clock,
        events=events,
    )


def test_try_admit_says_nothing_while_it_admits_and_explains_a_refusal() -> None:
    clock, bus = FakeClock(), EventBus()
    recorder = EventRecorder(bus)
    limiter = route_limiter(clock, bus)
    assert limiter.try_admit() is None
    assert limiter.try_admit() is None
    refusal = limiter.try_admit()
    assert refusal is not None
    assert not refusal.allowed
    assert refusal.retry_after == pytest.approx(0.5)
    assert refusal.remaining == 0
    assert [type(e) for e in recorder.events] == [RateLimitRejected]
    clock.advance(0.5)
    assert limiter.try_admit() is None


@pytest.mark.parametrize("algorithm", ["token_bucket", "gcra", "sliding_window"])
def test_try_admit_per_key_counts_like_try_acquire(algorithm: str) -> None:
    clock = FakeClock()
    admitting = route_limiter(clock, key=lambda k: k, algorithm=algorithm)
    acquiring = route_limiter(clock, key=lambda k: k, algorithm=algorithm)
    for key in ["a", "a", "b", "a", "b", "b"]:
        refusal = admitting.try_admit(key)
        decision = acquiring.try_acquire(key)
        assert (refusal is None) == decision.allowed
        if refusal is not None:
            assert refusal == decision
        clock.advance(0.1)
    assert isinstance(admitting.limiter, KeyedLimiter)
    assert isinstance(acquiring.limiter, KeyedLimiter)
    assert admitting.limiter.stats == acquiring.limiter.stats
    assert admitting.limiter.admits == (algorithm != "sliding_window")


def test_an_algorithm_without_admit_still_serves_try_admit() -> None:
    clock = FakeClock()
    options = RateLimitOptions(rate=Rate.parse("1/second"), burst=1)
    limiter = RateLimiter(options, limiter=SlidingWindowCounter(1, 1.0), clock=clock)
    assert limiter.try_admit() is None
    refusal = limiter.try_admit()
    assert refusal is not None
    assert not refusal.allowed
