"""run_check: the time bound on the fake clock, and errors turned into critical results."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from meshkit.clock import FakeClock
from meshkit.health import CallableCheck, CheckResult, CheckTarget, HealthStatus, run_check

TARGET = CheckTarget(instance_id="i-1", host="127.0.0.1", port=8080)


class Hanging:
    """A check that never answers (a server that accepts and stays silent)."""

    def __init__(self) -> None:
        self.cancelled = False

    async def check(self, target: CheckTarget) -> CheckResult:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


class Stubborn:
    """A check that swallows cancellation and answers late."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    async def check(self, target: CheckTarget) -> CheckResult:
        with contextlib.suppress(asyncio.CancelledError):
            await self.clock.sleep(10)
        return CheckResult.passing("too late")


async def test_a_hanging_check_times_out_on_schedule(clock: FakeClock) -> None:
    check = Hanging()
    task = asyncio.create_task(run_check(check, TARGET, timeout=2.0, clock=clock))
    await clock.run_for(1.999)
    assert not task.done()
    await clock.run_for(0.001)
    outcome = await task
    assert outcome == CheckResult.critical("timed out after 2s")
    assert check.cancelled
    assert clock.pending_timers == 0


async def test_a_check_that_swallows_the_cancellation_still_times_out(clock: FakeClock) -> None:
    task = asyncio.create_task(run_check(Stubborn(clock), TARGET, timeout=1.0, clock=clock))
    await clock.run_for(1.0)
    outcome = await task
    assert outcome.status is HealthStatus.CRITICAL
    assert "timed out" in outcome.reason


async def test_the_timer_is_cancelled_after_a_fast_answer(clock: FakeClock) -> None:
    async def ok(target: CheckTarget) -> bool:
        return True

    outcome = await run_check(CallableCheck(ok), TARGET, timeout=5.0, clock=clock)
    assert outcome.status is HealthStatus.PASSING
    assert clock.pending_timers == 0


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "ConnectionRefusedError: "),
        (OSError("no route"), "OSError: no route"),
        (RuntimeError(), "RuntimeError"),
    ],
)
async def test_exceptions_become_critical_results(
    clock: FakeClock, error: Exception, reason: str
) -> None:
    async def boom(target: CheckTarget) -> bool:
        raise error

    outcome = await run_check(CallableCheck(boom), TARGET, timeout=1.0, clock=clock)
    assert outcome.status is HealthStatus.CRITICAL
    assert outcome.reason.startswith(reason)


async def test_caller_cancellation_propagates(clock: FakeClock) -> None:
    check = Hanging()
    task = asyncio.create_task(run_check(check, TARGET, timeout=5.0, clock=clock))
    await clock.settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert check.cancelled
    assert clock.pending_timers == 0


async def test_caller_cancellation_wins_over_a_simultaneous_timeout(clock: FakeClock) -> None:
    task = asyncio.create_task(run_check(Hanging(), TARGET, timeout=1.0, clock=clock))
    await clock.settle()
    clock.advance(1.0)  # our timer cancels the task...
    task.cancel()  # ...and so does the caller, before the task runs again
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_base_exceptions_are_not_swallowed(clock: FakeClock) -> None:
    async def interrupt(target: CheckTarget) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await run_check(CallableCheck(interrupt), TARGET, timeout=1.0, clock=clock)
