from __future__ import annotations

import asyncio

import pytest

from meshkit.clock import SYSTEM_CLOCK, Clock, FakeClock


def test_fake_clock_starts_where_told_and_moves_only_on_advance() -> None:
    clock = FakeClock(10.0, wall_start=1000.0)
    assert clock.monotonic() == 10.0
    assert clock.time() == 1000.0
    clock.advance(2.5)
    assert clock.monotonic() == 12.5
    assert clock.time() == 1002.5


def test_fake_clock_refuses_to_go_backwards() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_timers_fire_in_due_order_at_their_due_time() -> None:
    clock = FakeClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(2, lambda: fired.append(("b", clock.monotonic())))
    clock.call_later(1, lambda: fired.append(("a", clock.monotonic())))
    cancelled = clock.call_later(1.5, lambda: fired.append(("x", clock.monotonic())))
    cancelled.cancel()
    clock.advance(1.9)
    assert fired == [("a", 1.0)]
    clock.advance(0.1)
    assert fired == [("a", 1.0), ("b", 2.0)]
    assert clock.pending_timers == 0


async def test_sleep_wakes_on_advance_not_before(clock: FakeClock) -> None:
    task = asyncio.create_task(clock.sleep(5))
    await clock.run_for(4.999)
    assert not task.done()
    await clock.run_for(0.001)
    assert task.done()


async def test_run_for_wakes_chained_sleepers_within_the_window(clock: FakeClock) -> None:
    stamps: list[float] = []

    async def ticker() -> None:
        for _ in range(3):
            await clock.sleep(1)
            stamps.append(clock.monotonic())

    task = asyncio.create_task(ticker())
    await clock.run_for(3)
    assert stamps == [1, 2, 3]
    assert task.done()


async def test_cancelled_sleep_leaves_no_timer(clock: FakeClock) -> None:
    task = asyncio.create_task(clock.sleep(5))
    await clock.settle()
    assert clock.pending_timers == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending_timers == 0


def test_sync_sleep_on_fake_clock_passes_time() -> None:
    clock = FakeClock()
    clock.sleep_sync(3)
    assert clock.monotonic() == 3


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SYSTEM_CLOCK, Clock)
    assert isinstance(FakeClock(), Clock)


async def test_system_clock_timer_fires_on_the_loop() -> None:
    fired = asyncio.Event()
    SYSTEM_CLOCK.call_later(0, fired.set)
    await asyncio.wait_for(fired.wait(), timeout=5)
    assert SYSTEM_CLOCK.monotonic() > 0
