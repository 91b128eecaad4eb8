"""The real policies composed by ``Pipeline.default``, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import BulkheadFull, CircuitOpen, TimeoutExceeded
from meshkit.ratelimit import Rate, RateLimiter, RateLimitOptions
from meshkit.resilience import (
    Backoff,
    Bulkhead,
    BulkheadOptions,
    CircuitBreaker,
    CircuitBreakerOptions,
    CircuitState,
    Fallback,
    FallbackOptions,
    Pipeline,
    PolicyKind,
    Retry,
    RetryBudget,
    RetryOptions,
    Timeout,
    TimeoutOptions,
)


def full_stack(clock: FakeClock, **extra: object) -> tuple[Pipeline, CircuitBreaker]:
    breaker = CircuitBreaker(
        CircuitBreakerOptions(
            consecutive_failures=3, failure_rate_threshold=None, break_duration=5
        ),
        clock=clock,
    )
    policies = [
        breaker,
        Timeout(TimeoutOptions(seconds=1.0, per_attempt=True), clock=clock),
        Retry(
            RetryOptions(
                max_attempts=3,
                backoff=Backoff(kind="constant", base=0.1),
                budget=RetryBudget(clock=clock),
            ),
            clock=clock,
        ),
        RateLimiter(RateLimitOptions(rate=Rate(limit=100), burst=100), clock=clock),
        Timeout(TimeoutOptions(seconds=10.0), clock=clock),
        Bulkhead(BulkheadOptions(max_concurrent=2), clock=clock),
    ]
    policies.extend(extra.values())  # type: ignore[arg-type]
    return Pipeline.default(*policies), breaker  # type: ignore[arg-type]


def test_default_order_is_the_documented_one(clock: FakeClock) -> None:
    fallback = Fallback(FallbackOptions(value=0), clock=clock)
    pipeline, _ = full_stack(clock, fallback=fallback)
    assert [p.kind for p in pipeline.policies] == [
        PolicyKind.FALLBACK,
        PolicyKind.BULKHEAD,
        PolicyKind.TOTAL_TIMEOUT,
        PolicyKind.RATE_LIMIT,
        PolicyKind.RETRY,
        PolicyKind.BREAKER,
        PolicyKind.ATTEMPT_TIMEOUT,
    ]


async def test_slow_attempts_time_out_are_retried_and_trip_the_breaker(clock: FakeClock) -> None:
    pipeline, breaker = full_stack(clock)
    attempts = 0

    async def hangs() -> str:
        nonlocal attempts
        attempts += 1
        await clock.sleep(60)
        return "never"

    call = asyncio.ensure_future(pipeline.execute(hangs))
    await clock.run_for(5.0)
    with pytest.raises(TimeoutExceeded):  # the last attempt's failure, after 3 attempts
        await call
    assert attempts == 3
    assert breaker.state is CircuitState.OPEN  # 3 timeouts in a row
    with pytest.raises(CircuitOpen):
        await pipeline.execute(hangs)
    assert attempts == 3


async def test_caller_errors_keep_type_and_traceback_through_every_policy(
    clock: FakeClock,
) -> None:
    pipeline, _ = full_stack(clock)

    class Mine(Exception):
        pass

    async def broken() -> None:
        raise Mine("mine")

    call = asyncio.ensure_future(pipeline.execute(broken))
    await clock.run_for(1.0)
    with pytest.raises(Mine) as info:
        await call
    frames = []
    tb = info.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "broken"


async def test_cancelling_the_caller_cancels_the_work(clock: FakeClock) -> None:
    pipeline, _ = full_stack(clock)
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    call = asyncio.ensure_future(pipeline.execute(work))
    await clock.settle()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert cancelled.is_set()


async def test_fallback_answers_a_full_bulkhead(clock: FakeClock) -> None:
    fallback = Fallback(FallbackOptions(value="busy"), clock=clock)
    pipeline, _ = full_stack(clock, fallback=fallback)
    gate = asyncio.Event()

    async def held() -> str:
        await gate.wait()
        return "done"

    running = [asyncio.ensure_future(pipeline.execute(held)) for _ in range(2)]
    await clock.settle()
    assert await pipeline.execute(held) == "busy"
    gate.set()
    assert await asyncio.gather(*running) == ["done", "done"]
    bare, _ = full_stack(clock)
    blockers = [asyncio.ensure_future(bare.execute(asyncio.Event().wait)) for _ in range(2)]
    await clock.settle()
    with pytest.raises(BulkheadFull):
        await bare.execute(held)
    for blocker in blockers:
        blocker.cancel()
    await asyncio.gather(*blockers, return_exceptions=True)
