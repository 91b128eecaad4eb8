from __future__ import annotations

import asyncio

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError, TimeoutExceeded
from meshkit.events import EventBus
from meshkit.resilience import PolicyKind
from meshkit.resilience.timeout import Timeout, TimeoutOccurred, TimeoutOptions
from meshkit.testing import EventRecorder


def make(clock: FakeClock, seconds: float = 1.0, **kw: object) -> Timeout:
    return Timeout(TimeoutOptions(seconds=seconds), clock=clock, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_seconds_must_be_positive(bad: float) -> None:
    with pytest.raises(ConfigError, match="seconds"):
        TimeoutOptions(seconds=bad)


def test_kind_follows_scope() -> None:
    assert Timeout(TimeoutOptions(seconds=1)).kind is PolicyKind.TOTAL_TIMEOUT
    assert Timeout(TimeoutOptions(seconds=1, per_attempt=True)).kind is PolicyKind.ATTEMPT_TIMEOUT


async def test_fast_call_returns_its_result(clock: FakeClock) -> None:
    timeout = make(clock)

    async def work(x: int, *, y: int) -> int:
        return x + y

    assert await timeout.execute(work, 1, y=2) == 3
    assert timeout.in_flight == 0


async def test_slow_call_is_cancelled_at_the_deadline(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    timeout = make(clock, 2.0, events=bus)
    inner_cancelled = asyncio.Event()

    async def slow() -> str:
        try:
            await clock.sleep(10)
        except asyncio.CancelledError:
            inner_cancelled.set()
            raise
        return "late"

    task = asyncio.create_task(timeout.execute(slow))
    await clock.run_for(1.999)
    assert not task.done()
    await clock.run_for(0.001)
    with pytest.raises(TimeoutExceeded) as info:
        await task
    assert inner_cancelled.is_set()
    assert info.value.policy == "timeout"
    assert [e.seconds for e in recorder.of(TimeoutOccurred)] == [2.0]


async def test_deadlines_of_many_calls_each_fire_on_time(clock: FakeClock) -> None:
    timeout = make(clock, 1.0)
    outcomes: dict[int, str] = {}

    async def call(i: int, duration: float) -> None:
        try:
            await timeout.execute(clock.sleep, duration)
            outcomes[i] = "ok"
        except TimeoutExceeded:
            outcomes[i] = "timeout"

    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(call(i, 0.5 if i % 2 else 1.5)))
        await clock.run_for(0.25)
    await clock.run_for(3)
    await asyncio.gather(*tasks)
    assert outcomes == {i: ("ok" if i % 2 else "timeout") for i in range(6)}
    assert timeout.in_flight == 0


async def test_caller_cancellation_is_not_a_timeout(clock: FakeClock) -> None:
    timeout = make(clock, 5.0)
    task = asyncio.create_task(timeout.execute(clock.sleep, 10))
    await clock.run_for(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_caller_cancelling_at_the_same_moment_wins(clock: FakeClock) -> None:
    timeout = make(clock, 1.0)
    task = asyncio.create_task(timeout.execute(clock.sleep, 10))
    await clock.settle()
    clock.advance(1.0)  # the deadline fires (cancel requested) ...
    task.cancel()  # ... and the caller cancels before the task runs again
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_nested_timeouts_report_the_one_that_fired(clock: FakeClock) -> None:
    total = Timeout(TimeoutOptions(seconds=5), name="total", clock=clock)
    attempt = Timeout(TimeoutOptions(seconds=1, per_attempt=True), name="attempt", clock=clock)

    async def run() -> None:
        await total.execute(attempt.execute, clock.sleep, 10)

    task = asyncio.create_task(run())
    await clock.run_for(1)
    with pytest.raises(TimeoutExceeded) as info:
        await task
    assert info.value.policy == "attempt"

    async def run_outer() -> None:
        async def many_attempts() -> None:
            for _ in range(10):
                await attempt.execute(clock.sleep, 0.9)

        await total.execute(many_attempts)

    task = asyncio.create_task(run_outer())
    await clock.run_for(6)
    with pytest.raises(TimeoutExceeded) as info:
        await task
    assert info.value.policy == "total"


async def test_caller_errors_pass_through_unchanged(clock: FakeClock) -> None:
    timeout = make(clock)
    error = KeyError("mine")

    async def fail() -> None:
        raise error

    with pytest.raises(KeyError) as info:
        await timeout.execute(fail)
    assert info.value is error


async def test_callee_swallowing_cancellation_still_times_out(clock: FakeClock) -> None:
    timeout = make(clock, 1.0)

    async def stubborn() -> str:
        try:
            await clock.sleep(10)
        except asyncio.CancelledError:
            return "swallowed"
        return "finished"

    task = asyncio.create_task(timeout.execute(stubborn))
    await clock.run_for(1)
    with pytest.raises(TimeoutExceeded):
        await task


def test_sync_call_within_the_deadline_returns() -> None:
    timeout = Timeout(TimeoutOptions(seconds=30))
    assert timeout.execute_sync(lambda a, b: a * b, 6, 7) == 42
