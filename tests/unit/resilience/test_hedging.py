from __future__ import annotations

import asyncio
import threading

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError
from meshkit.events import EventBus
from meshkit.resilience import HedgeStarted, Hedging, HedgingOptions, OutcomeFilter
from meshkit.testing import EventRecorder


class Replicas:
    """Attempt i sleeps ``latencies[i]`` on the fake clock, then answers or fails."""

    def __init__(self, clock: FakeClock, latencies: list[float], fail: set[int] | None = None):
        self.clock = clock
        self.latencies = latencies
        self.fail = fail or set()
        self.started = 0
        self.cancelled: list[int] = []

    async def __call__(self) -> str:
        attempt = self.started
        self.started += 1
        try:
            await self.clock.sleep(self.latencies[attempt])
        except asyncio.CancelledError:
            self.cancelled.append(attempt)
            raise
        if attempt in self.fail:
            raise ConnectionError(f"attempt {attempt} failed")
        return f"attempt {attempt}"


def test_invalid_options() -> None:
    with pytest.raises(ConfigError, match="delay"):
        HedgingOptions(delay=-1)
    with pytest.raises(ConfigError, match="max_hedged_attempts"):
        HedgingOptions(delay=1, max_hedged_attempts=0)


async def test_fast_call_starts_no_hedge(clock: FakeClock) -> None:
    replicas = Replicas(clock, [0.1])
    hedging = Hedging(HedgingOptions(delay=0.5), clock=clock)
    task = asyncio.ensure_future(hedging.execute(replicas))
    await clock.run_for(1.0)
    assert await task == "attempt 0"
    assert replicas.started == 1
    assert clock.pending_timers == 0


async def test_slow_call_is_hedged_and_the_loser_cancelled(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    replicas = Replicas(clock, [5.0, 0.2])
    hedging = Hedging(HedgingOptions(delay=0.5), clock=clock, events=bus)
    task = asyncio.ensure_future(hedging.execute(replicas))
    await clock.run_for(0.8)
    assert await task == "attempt 1"
    await clock.settle()
    assert replicas.cancelled == [0]
    assert [(e.attempt, e.reason) for e in recorder.of(HedgeStarted)] == [(2, "slow")]


async def test_failure_starts_the_next_attempt_at_once(clock: FakeClock) -> None:
    replicas = Replicas(clock, [0.1, 0.1, 0.1], fail={0})
    hedging = Hedging(HedgingOptions(delay=10, max_hedged_attempts=2), clock=clock)
    task = asyncio.ensure_future(hedging.execute(replicas))
    await clock.run_for(0.25)
    assert await task == "attempt 1"


async def test_all_attempts_failing_raise_the_last_failure(clock: FakeClock) -> None:
    replicas = Replicas(clock, [0.1, 0.1], fail={0, 1})
    hedging = Hedging(HedgingOptions(delay=1), clock=clock)
    task = asyncio.ensure_future(hedging.execute(replicas))
    await clock.run_for(1.0)
    with pytest.raises(ConnectionError, match="attempt 1"):
        await task


async def test_unhandled_failure_ends_the_race(clock: FakeClock) -> None:
    replicas = Replicas(clock, [1.0, 0.1], fail={1})
    hedging = Hedging(
        HedgingOptions(delay=0.2, handle=OutcomeFilter(exceptions=(TimeoutError,))), clock=clock
    )
    task = asyncio.ensure_future(hedging.execute(replicas))
    await clock.run_for(0.5)
    with pytest.raises(ConnectionError):
        await task
    await clock.settle()
    assert replicas.cancelled == [0]


async def test_cancelling_the_caller_cancels_every_attempt(clock: FakeClock) -> None:
    replicas = Replicas(clock, [5.0, 5.0])
    hedging = Hedging(HedgingOptions(delay=0.5), clock=clock)
    task = asyncio.ensure_future(hedging.execute(replicas))
    await clock.run_for(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.settle()
    assert sorted(replicas.cancelled) == [0, 1]


class SlowToStop(Replicas):
    """Attempts whose cleanup after a cancellation takes a few turns of the loop, and may fail."""

    def __init__(self, clock: FakeClock, latencies: list[float], cleanup_error: bool = False):
        super().__init__(clock, latencies)
        self.cleanup_error = cleanup_error
        self.cleaned: list[int] = []

    async def __call__(self) -> str:
        attempt = self.started
        try:
            return await super().__call__()
        except asyncio.CancelledError:
            for _ in range(3):
                await self.clock.sleep(0)  # e.g. closing a connection
            self.cleaned.append(attempt)
            if self.cleanup_error:
                raise RuntimeError(f"attempt {attempt} failed to clean up") from None
            raise


async def test_execute_returns_after_its_cancelled_losers_have_finished(clock: FakeClock) -> None:
    replicas = SlowToStop(clock, [5.0, 0.2, 5.0])
    hedging = Hedging(HedgingOptions(delay=0.1, max_hedged_attempts=2), clock=clock)

    async def call() -> tuple[str, list[int]]:
        answer = await hedging.execute(replicas)
        return answer, list(replicas.cleaned)  # what had finished when execute returned

    task = asyncio.ensure_future(call())
    await clock.run_for(0.5)
    assert await task == ("attempt 1", [0, 2])


async def test_execute_raises_after_its_cancelled_losers_have_finished(clock: FakeClock) -> None:
    replicas = SlowToStop(clock, [5.0, 0.2])
    replicas.fail = {1}
    hedging = Hedging(
        HedgingOptions(delay=0.1, handle=OutcomeFilter(exceptions=(TimeoutError,))), clock=clock
    )

    async def call() -> list[int]:
        with pytest.raises(ConnectionError, match="attempt 1"):
            await hedging.execute(replicas)
        return list(replicas.cleaned)

    task = asyncio.ensure_future(call())
    await clock.run_for(0.5)
    assert await task == [0]


async def test_a_losers_cleanup_error_is_reported_not_lost(clock: FakeClock) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    replicas = SlowToStop(clock, [5.0, 0.2], cleanup_error=True)
    hedging = Hedging(HedgingOptions(delay=0.1), name="orders", clock=clock)

    async def call() -> tuple[str, list[dict[str, object]]]:
        answer = await hedging.execute(replicas)
        return answer, list(reported)

    task = asyncio.ensure_future(call())
    try:
        await clock.run_for(0.5)
        answer, seen = await task
    finally:
        loop.set_exception_handler(None)
    assert answer == "attempt 1"  # the winner still wins
    assert len(seen) == 1
    assert "orders" in str(seen[0]["message"])
    assert str(seen[0]["exception"]) == "attempt 0 failed to clean up"


def test_sync_hedge_races_threads() -> None:
    release_first = threading.Event()
    calls: list[str] = []
    lock = threading.Lock()

    def call() -> str:
        with lock:
            calls.append("x")
            number = len(calls)
        if number == 1:
            release_first.wait(timeout=5)  # the slow replica
            return "slow"
        return "fast"

    hedging = Hedging(HedgingOptions(delay=0.01))
    try:
        assert hedging.execute_sync(call) == "fast"
    finally:
        release_first.set()
