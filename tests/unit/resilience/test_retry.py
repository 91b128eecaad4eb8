from __future__ import annotations

import asyncio
import random

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import CircuitOpen, ConfigError, RetryBudgetExhausted
from meshkit.events import EventBus
from meshkit.resilience import OutcomeFilter
from meshkit.resilience.backoff import Backoff
from meshkit.resilience.retry import Retry, RetryBudget, RetryGaveUp, RetryOptions, RetryScheduled
from meshkit.testing import EventRecorder

CONSTANT = Backoff(kind="constant", base=1.0)


class Flaky:
    """Fails ``failures`` times, then returns ``"ok"``; counts calls."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.calls = 0
        self.error = error or ConnectionError("refused")

    async def __call__(self) -> str:
        return self.sync()

    def sync(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def make(clock: FakeClock, bus: EventBus | None = None, **options: object) -> Retry:
    options.setdefault("backoff", CONSTANT)
    return Retry(RetryOptions(**options), name="api", clock=clock, events=bus)  # type: ignore[arg-type]


async def drive(clock: FakeClock, coro: object, seconds: float = 100.0) -> object:
    task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
    await clock.run_for(seconds)
    return await task


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2.5}, "max_attempts"),
        ({"max_attempts": None}, "max_attempts"),
        ({"max_total_time": -1}, "max_total_time"),
        ({"backoff": "exponential"}, "backoff"),
        ({"max_retry_after": -1}, "max_retry_after"),
        ({"budget": 0.2}, "budget"),
    ],
)
def test_invalid_options_name_the_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        RetryOptions(**options)  # type: ignore[arg-type]


async def test_retries_until_success_with_backoff(clock: FakeClock) -> None:
    retry = make(clock, max_attempts=3)
    flaky = Flaky(2)
    task = asyncio.ensure_future(retry.execute(flaky))
    await clock.run_for(1.0)
    assert flaky.calls == 2  # first call, then one retry after 1 s
    assert not task.done()
    await clock.run_for(1.0)
    assert await task == "ok"
    assert flaky.calls == 3


async def test_gives_up_with_the_callers_own_exception(clock: FakeClock) -> None:
    retry = make(clock, max_attempts=3)
    flaky = Flaky(5)
    with pytest.raises(ConnectionError) as info:
        await drive(clock, retry.execute(flaky))
    assert info.value is flaky.error
    assert info.value.__traceback__ is not None
    assert flaky.calls == 3


async def test_not_retryable_exceptions_pass_at_once(clock: FakeClock) -> None:
    retry = make(clock, retry_on=OutcomeFilter(exceptions=(ConnectionError,)))
    flaky = Flaky(5, KeyError("missing"))
    with pytest.raises(KeyError):
        await retry.execute(flaky)
    assert flaky.calls == 1


async def test_result_predicate_retries_and_returns_the_last_result(clock: FakeClock) -> None:
    statuses = iter([503, 503, 503])
    retry = make(clock, max_attempts=3, retry_on=OutcomeFilter(result_predicate=lambda s: s >= 500))

    async def call() -> int:
        return next(statuses)

    assert await drive(clock, retry.execute(call)) == 503


async def test_max_total_time_stops_retrying(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    retry = make(clock, bus, max_attempts=None, max_total_time=2.5)
    flaky = Flaky(100)
    with pytest.raises(ConnectionError):
        await drive(clock, retry.execute(flaky))
    assert flaky.calls == 3  # at 0, 1, 2; a retry at 3 would pass 2.5 s
    assert "max_total_time" in recorder.of(RetryGaveUp)[0].reason


async def test_retry_after_hint_is_honoured_and_capped(clock: FakeClock) -> None:
    flaky = Flaky(1, CircuitOpen("open", retry_after=4.0))
    # meshkit's own rejections are not retried by default; this retry opts in
    retry = make(clock, max_attempts=3, max_retry_after=10, retry_on=OutcomeFilter(ignore=()))
    task = asyncio.ensure_future(retry.execute(flaky))
    await clock.run_for(3.9)
    assert flaky.calls == 1  # the backoff says 1 s, the failure asked for 4 s
    await clock.run_for(0.2)
    assert await task == "ok"
    too_long = Flaky(1, CircuitOpen("open", retry_after=30.0))
    with pytest.raises(CircuitOpen):
        await retry.execute(too_long)
    assert too_long.calls == 1


async def test_budget_refusal_raises_with_the_last_error(clock: FakeClock) -> None:
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.1, window=10, clock=clock)
    retry = make(clock, max_attempts=5, budget=budget)
    first = Flaky(1)
    # the one retry the floor allows (the clock moves only the 1 s of backoff)
    assert await drive(clock, retry.execute(first), seconds=1.0) == "ok"
    second = Flaky(1)
    with pytest.raises(RetryBudgetExhausted) as info:
        await retry.execute(second)
    assert info.value.last_error is second.error
    assert info.value.__cause__ is second.error
    assert info.value.policy == "api"
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0


async def test_events_describe_each_retry(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    retry = make(clock, bus, max_attempts=2)
    with pytest.raises(ConnectionError):
        await drive(clock, retry.execute(Flaky(5)))
    scheduled = recorder.of(RetryScheduled)
    assert [(e.attempt, e.delay) for e in scheduled] == [(1, 1.0)]
    assert scheduled[0].failure == "ConnectionError: refused"
    assert recorder.of(RetryGaveUp)[0].attempts == 2


async def test_cancelling_the_caller_stops_the_retries(clock: FakeClock) -> None:
    retry = make(clock, max_attempts=10)
    flaky = Flaky(100)
    task = asyncio.ensure_future(retry.execute(flaky))
    await clock.run_for(1.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.run_for(20)
    assert flaky.calls == 2


def test_sync_retry_uses_the_clock(clock: FakeClock) -> None:
    retry = make(clock, max_attempts=4)
    flaky = Flaky(3)
    assert retry.execute_sync(flaky.sync) == "ok"
    assert clock.monotonic() == 3.0
    with pytest.raises(ConnectionError):
        retry.execute_sync(Flaky(9).sync)


async def test_jittered_delays_are_reproducible_with_a_seeded_rng(clock: FakeClock) -> None:
    backoff = Backoff(kind="exponential_full_jitter", base=1.0, max_delay=8.0)

    def delays(seed: int) -> list[float]:
        return backoff.delays(6, random.Random(seed))

    assert delays(7) == delays(7)
    assert delays(7) != delays(8)
