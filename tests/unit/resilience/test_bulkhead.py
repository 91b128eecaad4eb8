from __future__ import annotations

import asyncio
import threading

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import BulkheadFull, ConfigError
from meshkit.events import EventBus
from meshkit.resilience import Bulkhead, BulkheadOptions, BulkheadPools, BulkheadRejected
from meshkit.testing import EventRecorder


def make(clock: FakeClock, bus: EventBus | None = None, **options: object) -> Bulkhead:
    return Bulkhead(BulkheadOptions(**options), name="db", clock=clock, events=bus)  # type: ignore[arg-type]


class Gate:
    """Calls that block until released, counting how many run at once."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.running = 0
        self.peak = 0
        self.order: list[int] = []

    async def __call__(self, n: int) -> int:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.order.append(n)
        try:
            await self.event.wait()
        finally:
            self.running -= 1
        return n


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"max_concurrent": 1.5}, "max_concurrent"),
        ({"max_concurrent": 1, "max_queued": -1}, "max_queued"),
        ({"max_concurrent": 1, "max_queue_wait": 0}, "max_queue_wait"),
    ],
)
def test_invalid_options_name_the_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        BulkheadOptions(**options)  # type: ignore[arg-type]


async def test_bounds_concurrency_queues_in_order_and_refuses_beyond(
    clock: FakeClock, bus: EventBus
) -> None:
    recorder = EventRecorder(bus)
    bulkhead = make(clock, bus, max_concurrent=2, max_queued=2)
    gate = Gate()
    tasks = [asyncio.ensure_future(bulkhead.execute(gate, n)) for n in range(4)]
    await clock.settle()
    assert bulkhead.stats().active == 2
    assert bulkhead.stats().queued == 2
    with pytest.raises(BulkheadFull):
        await bulkhead.execute(gate, 99)
    gate.event.set()
    assert await asyncio.gather(*tasks) == [0, 1, 2, 3]
    assert gate.peak == 2
    assert gate.order == [0, 1, 2, 3]  # FIFO
    assert bulkhead.stats().active == 0
    assert recorder.of(BulkheadRejected)[0].reason == "queue full"


async def test_queue_wait_is_bounded(clock: FakeClock) -> None:
    bulkhead = make(clock, max_concurrent=1, max_queued=5, max_queue_wait=2.0)
    gate = Gate()
    holder = asyncio.ensure_future(bulkhead.execute(gate, 0))
    waiter = asyncio.ensure_future(bulkhead.execute(gate, 1))
    await clock.run_for(1.9)
    assert not waiter.done()
    await clock.run_for(0.2)
    with pytest.raises(BulkheadFull, match="queue wait exceeded"):
        await waiter
    gate.event.set()
    await holder
    assert bulkhead.stats().active == 0


async def test_cancelled_waiters_leak_no_capacity(clock: FakeClock) -> None:
    bulkhead = make(clock, max_concurrent=1, max_queued=3)
    gate = Gate()
    holder = asyncio.ensure_future(bulkhead.execute(gate, 0))
    waiters = [asyncio.ensure_future(bulkhead.execute(gate, n)) for n in (1, 2)]
    await clock.settle()
    waiters[0].cancel()
    gate.event.set()
    await holder
    # the slot is handed to waiter 1 and it is cancelled before it runs: the slot moves on
    late = asyncio.ensure_future(bulkhead.execute(gate, 3))
    waiters[1].cancel()
    results = await asyncio.gather(*waiters, late, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[2] == 3
    assert bulkhead.stats().active == 0
    assert bulkhead.stats().queued == 0


async def test_a_waiter_cancelled_mid_queue_leaves_it_at_once(clock: FakeClock) -> None:
    bulkhead = make(clock, max_concurrent=1, max_queued=3)
    gate = Gate()
    holder = asyncio.ensure_future(bulkhead.execute(gate, 0))
    waiters = [asyncio.ensure_future(bulkhead.execute(gate, n)) for n in (1, 2, 3)]
    await clock.settle()
    waiters[1].cancel()
    await clock.settle()
    assert bulkhead.stats().queued == 2
    newcomer = asyncio.ensure_future(bulkhead.execute(gate, 4))  # takes the freed place
    await clock.settle()
    assert not newcomer.done()
    assert bulkhead.stats().queued == 3
    # a place freed this very turn is free too: the latecomer runs before the cancelled task
    latecomer = asyncio.ensure_future(bulkhead.execute(gate, 5))
    waiters[2].cancel()
    await clock.settle()
    assert not latecomer.done()
    gate.event.set()
    results = await asyncio.gather(holder, *waiters, newcomer, latecomer, return_exceptions=True)
    assert [r if isinstance(r, int) else "cancelled" for r in results] == [
        0, 1, "cancelled", "cancelled", 4, 5,
    ]  # fmt: skip
    assert gate.order == [0, 1, 4, 5]
    assert bulkhead.stats().queued == 0
    assert bulkhead.stats().rejected == 0


async def test_cancelling_a_running_call_frees_its_slot(clock: FakeClock) -> None:
    bulkhead = make(clock, max_concurrent=1)
    task = asyncio.ensure_future(bulkhead.execute(asyncio.Event().wait))
    await clock.settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bulkhead.stats().active == 0


def test_sync_calls_are_bounded_across_threads(clock: FakeClock) -> None:
    bulkhead = make(clock, max_concurrent=2, max_queued=0)
    inside = threading.Barrier(3)
    release = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        inside.wait(timeout=5)
        release.wait(timeout=5)

    def run() -> None:
        try:
            bulkhead.execute_sync(work)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=5)  # both threads are inside the bulkhead
    with pytest.raises(BulkheadFull):
        bulkhead.execute_sync(lambda: None)
    release.set()
    for thread in threads:
        thread.join(timeout=5)
    assert errors == []
    assert bulkhead.execute_sync(lambda: 5) == 5


async def test_named_pools_split_capacity(clock: FakeClock) -> None:
    pools = BulkheadPools.split(10, clock=clock)
    assert {name: p.options.max_concurrent for name, p in pools.items()} == {
        "critical": 5,
        "normal": 3,
        "background": 2,
    }
    gate = Gate()
    background = [asyncio.ensure_future(pools["background"].execute(gate, n)) for n in range(4)]
    await clock.settle()
    with pytest.raises(BulkheadFull):  # background is full and its queue too...
        await pools["background"].execute(gate, 9)
    critical = asyncio.ensure_future(pools["critical"].execute(gate, 7))  # ...critical is not
    await clock.settle()
    assert pools["critical"].stats().active == 1
    gate.event.set()
    await asyncio.gather(*background, critical)
    with pytest.raises(KeyError, match="pools are: background, critical, normal"):
        pools["batch"]
    with pytest.raises(ConfigError, match="shares"):
        BulkheadPools.split(10, shares={"a": 0.8, "b": 0.8})
