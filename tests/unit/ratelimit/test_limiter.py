from __future__ import annotations

import asyncio
import math

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError, RateLimited
from meshkit.events import EventBus
from meshkit.ratelimit import (
    Decision,
    KeyedLimiter,
    Rate,
    RateLimiter,
    RateLimitOptions,
    RateLimitRejected,
    TokenBucket,
)
from meshkit.resilience import Policy, PolicyKind
from meshkit.testing import EventRecorder


def limiter(
    clock: FakeClock, rate: str = "1/second", burst: int | None = None, **kw: object
) -> RateLimiter:
    events = kw.pop("events", None)
    options = RateLimitOptions(rate=Rate.parse(rate), burst=burst, **kw)  # type: ignore[arg-type]
    return RateLimiter(options, clock=clock, events=events)  # type: ignore[arg-type]


async def echo(*args: object, **kwargs: object) -> tuple[object, ...]:
    return (*args, kwargs)


def test_is_a_rate_limit_policy(clock: FakeClock) -> None:
    policy = limiter(clock)
    assert isinstance(policy, Policy)
    assert policy.kind is PolicyKind.RATE_LIMIT
    assert policy.name == "rate_limit"
    assert isinstance(policy.limiter, TokenBucket)
    assert policy.options.rate == Rate(limit=1)


async def test_calls_within_the_limit_run_with_their_arguments(clock: FakeClock) -> None:
    policy = limiter(clock, "2/second")
    assert await policy.execute(echo, 1, two=2) == (1, {"two": 2})
    assert policy.execute_sync(lambda x: x * 2, 21) == 42


async def test_a_call_over_the_limit_is_refused_with_retry_after(clock: FakeClock) -> None:
    policy = limiter(clock, "2/second")
    calls: list[int] = []

    async def work() -> None:
        calls.append(1)

    await policy.execute(work)
    await policy.execute(work)
    clock.advance(0.25)
    with pytest.raises(RateLimited) as info:
        await policy.execute(work)
    assert calls == [1, 1]
    assert info.value.retry_after == pytest.approx(0.25)
    assert info.value.policy == "rate_limit"
    decision = info.value.decision  # type: ignore[attr-defined]
    assert (decision.allowed, decision.remaining, decision.reset_after) == (False, 0, 0.75)
    assert decision.retry_after == info.value.retry_after
    clock.advance(0.25)
    await policy.execute(work)
    assert calls == [1, 1, 1]


def test_sync_refusal_carries_the_decision_too(clock: FakeClock) -> None:
    policy = limiter(clock)
    policy.execute_sync(lambda: None)
    with pytest.raises(RateLimited) as info:
        policy.execute_sync(lambda: pytest.fail("must not run"))
    assert info.value.retry_after == 1.0
    assert info.value.decision.allowed is False  # type: ignore[attr-defined]


async def test_the_callers_own_exception_passes_unchanged(clock: FakeClock) -> None:
    policy = limiter(clock, "5/second")
    boom = LookupError("mine")

    async def fail() -> None:
        raise boom

    with pytest.raises(LookupError) as info:
        await policy.execute(fail)
    assert info.value is boom
    assert info.traceback[-1].name == "fail"

    def fail_sync() -> None:
        raise boom

    with pytest.raises(LookupError) as sync_info:
        policy.execute_sync(fail_sync)
    assert sync_info.value is boom


async def test_rejections_are_published_only_to_an_active_bus(
    clock: FakeClock, bus: EventBus
) -> None:
    policy = RateLimiter(
        RateLimitOptions(rate=Rate(limit=1), key=lambda user: user),
        name="per-user",
        clock=clock,
        events=bus,
    )
    await policy.execute(echo, "ann")
    with pytest.raises(RateLimited):
        await policy.execute(echo, "ann")  # nobody listens yet
    recorder = EventRecorder(bus)
    with pytest.raises(RateLimited):
        await policy.execute(echo, "ann")
    await policy.execute(echo, "bob")
    assert recorder.events == [
        RateLimitRejected(
            source="per-user",
            at=clock.time(),
            key="ann",
            cost=1,
            limit=1,
            remaining=0,
            retry_after=1.0,
        )
    ]


async def test_a_key_function_limits_each_key_apart(clock: FakeClock) -> None:
    policy = limiter(clock, "1/minute", key=lambda *a, user: user)
    assert isinstance(policy.limiter, KeyedLimiter)
    await policy.execute(echo, user="ann")
    await policy.execute(echo, 1, 2, user="bob")
    with pytest.raises(RateLimited):
        await policy.execute(echo, user="ann")
    assert policy.try_acquire("carl").allowed
    assert not policy.try_acquire("carl").allowed
    assert policy.limiter.stats.rejected == 2


def test_try_acquire_decides_now_with_a_cost(clock: FakeClock) -> None:
    policy = limiter(clock, "10/second", burst=3)
    assert policy.try_acquire(cost=2) == Decision(True, 3, 1, 0.2, 0.0)
    assert policy.try_acquire(cost=2) == Decision(False, 3, 1, 0.2, 0.1)
    assert policy.try_acquire(cost=4).retry_after == math.inf


async def test_acquire_waits_up_to_max_wait(clock: FakeClock) -> None:
    policy = limiter(clock)
    policy.try_acquire()
    task = asyncio.create_task(policy.acquire(max_wait=2.0))
    await clock.run_for(0.999)
    assert not task.done()
    await clock.run_for(0.001)
    assert task.done()
    assert task.result() == Decision(True, 1, 0, 1.0, 0.0)
    assert clock.monotonic() == 1.0


async def test_acquire_never_waits_when_waiting_cannot_help(clock: FakeClock) -> None:
    policy = limiter(clock, "1/minute", max_wait=5.0)
    policy.try_acquire()
    task = asyncio.create_task(policy.acquire())  # 60 s away, 5 s allowed
    await clock.settle()
    assert task.done()
    assert task.result().retry_after == 60.0
    assert clock.pending_timers == 0
    assert (await policy.acquire(cost=2)).retry_after == math.inf  # more than ever fits
    assert clock.monotonic() == 0.0


@pytest.mark.parametrize(("max_wait", "second_allowed"), [(1.5, False), (2.0, True)])
async def test_waiters_share_capacity_without_exceeding_the_limit(
    clock: FakeClock, max_wait: float, second_allowed: bool
) -> None:
    policy = limiter(clock, max_wait=max_wait)
    policy.try_acquire()
    waiters = [asyncio.create_task(policy.acquire()) for _ in range(2)]
    await clock.run_for(1.0)  # one token: one waiter gets it, the other needs the next one
    assert waiters[0].result().allowed
    assert waiters[1].done() is not second_allowed  # gives up at once if 2.0 is too late
    await clock.run_for(1.0)
    assert waiters[1].result().allowed is second_allowed
    assert clock.pending_timers == 0


async def test_execute_waits_when_options_allow_it(clock: FakeClock) -> None:
    policy = limiter(clock, "2/second", max_wait=0.5)
    await policy.execute(echo)
    await policy.execute(echo)
    task = asyncio.create_task(policy.execute(echo, "late"))
    await clock.run_for(0.499)
    assert not task.done()
    await clock.run_for(0.001)
    assert task.result() == ("late", {})


def test_execute_sync_waits_on_the_clock(clock: FakeClock) -> None:
    policy = limiter(clock, "2/second", max_wait=0.5)
    policy.execute_sync(lambda: None)
    policy.execute_sync(lambda: None)
    assert policy.execute_sync(lambda: "waited") == "waited"
    assert clock.monotonic() == 0.5
    hourly = limiter(clock, "1/hour", max_wait=0.5)
    hourly.execute_sync(lambda: None)
    with pytest.raises(RateLimited):
        hourly.execute_sync(lambda: None)
    assert clock.monotonic() == 0.5  # refused at once: waiting could not have helped


async def test_cancelling_a_waiter_propagates(clock: FakeClock) -> None:
    policy = limiter(clock, max_wait=10.0)
    policy.try_acquire()
    task = asyncio.create_task(policy.execute(echo))
    await clock.run_for(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending_timers == 0
    assert policy.try_acquire().allowed is False  # the waiter took nothing


async def test_the_local_success_path_never_suspends(clock: FakeClock) -> None:
    for policy in (limiter(clock, "5/second"), limiter(clock, "5/second", key=lambda: "k")):

        async def immediate() -> str:
            return "done"

        coro = policy.execute(immediate)
        with pytest.raises(StopIteration) as info:
            coro.send(None)  # ran to completion in one step: nothing was awaited on the loop
        assert info.value.value == "done"


class FakeBackend:
    """Stands in for RedisRateLimiter: an async ``decide`` that suspends like a round trip."""

    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.calls: list[tuple[str, int]] = []

    async def decide(self, key: str, cost: int = 1) -> Decision:
        self.calls.append((key, cost))
        await asyncio.sleep(0)  # a real backend suspends here
        if self.allow:
            return Decision(True, 5, 4, 0.2, 0.0)
        return Decision(False, 5, 0, 1.0, 0.75)


async def test_an_async_backend_is_awaited(clock: FakeClock) -> None:
    backend = FakeBackend(allow=True)
    keyed = RateLimitOptions(rate=Rate(limit=5), key=lambda user_id: user_id)
    policy = RateLimiter(keyed, limiter=backend, clock=clock)
    assert await policy.execute(echo, 42) == (42, {})
    unkeyed = RateLimiter(RateLimitOptions(rate=Rate(limit=5)), limiter=backend, clock=clock)
    assert await unkeyed.execute(echo) == ({},)
    assert await unkeyed.acquire("k", 3) == Decision(True, 5, 4, 0.2, 0.0)
    assert backend.calls == [("42", 1), ("", 1), ("k", 3)]


async def test_a_backend_refusal_raises_and_may_wait(clock: FakeClock) -> None:
    backend = FakeBackend(allow=False)
    policy = RateLimiter(RateLimitOptions(rate=Rate(limit=5)), limiter=backend, clock=clock)
    with pytest.raises(RateLimited) as info:
        await policy.execute(echo)
    assert info.value.retry_after == 0.75
    assert len(backend.calls) == 1  # refused once, asked once
    task = asyncio.create_task(policy.acquire(max_wait=1.0))
    await clock.settle()
    backend.allow = True  # by the time the waiter asks again
    await clock.run_for(0.749)
    assert not task.done()
    await clock.run_for(0.001)
    assert task.result().allowed
    assert len(backend.calls) == 3


def test_a_backend_cannot_serve_synchronous_callers(clock: FakeClock) -> None:
    policy = RateLimiter(
        RateLimitOptions(rate=Rate(limit=5)), limiter=FakeBackend(allow=True), clock=clock
    )
    with pytest.raises(TypeError, match="async backend"):
        policy.try_acquire()
    with pytest.raises(TypeError, match="async backend"):
        policy.execute_sync(lambda: None)


def test_limiter_argument_is_checked(clock: FakeClock) -> None:
    keyed = RateLimitOptions(rate=Rate(limit=5), key=lambda: "k")
    with pytest.raises(ConfigError) as info:
        RateLimiter(keyed, limiter=TokenBucket(rate=1, burst=1), clock=clock)
    assert info.value.option == "key"
    with pytest.raises(ConfigError) as info:
        RateLimiter(keyed, limiter=object(), clock=clock)  # type: ignore[arg-type]
    assert info.value.option == "limiter"


def test_explicit_limiters_are_used_as_given(clock: FakeClock) -> None:
    bucket = TokenBucket(rate=1, burst=2)
    policy = RateLimiter(RateLimitOptions(rate=Rate(limit=99)), limiter=bucket, clock=clock)
    assert policy.limiter is bucket
    assert policy.try_acquire().limit == 2
    keyed = KeyedLimiter(lambda: TokenBucket(rate=1, burst=1))
    per_key = RateLimiter(
        RateLimitOptions(rate=Rate(limit=99), key=lambda k: k), limiter=keyed, clock=clock
    )
    per_key.execute_sync(lambda k: k, "a")
    assert "a" in keyed
    assert repr(per_key).startswith("RateLimiter(KeyedLimiter(")
