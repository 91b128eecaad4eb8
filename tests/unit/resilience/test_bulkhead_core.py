"""The bulkhead's synchronous core: slots, FIFO hand-over, cancel and queue timeouts.

No event loop: the fake clock's timers fire when it is advanced.
"""

from __future__ import annotations

import pytest

from meshkit.clock import FakeClock
from meshkit.events import EventBus
from meshkit.resilience import Bulkhead, BulkheadOptions, BulkheadRejected
from meshkit.resilience.bulkhead import Waiter
from meshkit.testing import EventRecorder


def make(clock: FakeClock, bus: EventBus | None = None, **options: object) -> Bulkhead:
    return Bulkhead(BulkheadOptions(**options), name="route", clock=clock, events=bus)  # type: ignore[arg-type]


class Log:
    """Callbacks that write what happened, in order, into one list."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def slot(self, name: str) -> object:
        return lambda: self.entries.append(f"{name} slot")

    def timeout(self, name: str) -> object:
        return lambda: self.entries.append(f"{name} timeout")

    def queue(self, bulkhead: Bulkhead, name: str) -> Waiter | None:
        return bulkhead.queue(self.slot(name), self.timeout(name))  # type: ignore[arg-type]


def test_try_enter_takes_free_slots_and_leave_frees_them(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    bulkhead = make(clock, bus, max_concurrent=2)
    assert [bulkhead.try_enter() for _ in range(3)] == [True, True, False]
    assert bulkhead.stats().active == 2
    bulkhead.leave()
    assert bulkhead.try_enter()
    assert len(recorder) == 0  # success and a plain refusal to enter emit nothing


def test_a_freed_slot_goes_to_the_longest_waiter_synchronously(clock: FakeClock) -> None:
    log = Log()
    bulkhead = make(clock, max_concurrent=1, max_queued=3)
    assert bulkhead.try_enter()
    waiters = [log.queue(bulkhead, name) for name in "abc"]
    assert all(w is not None and w.queued for w in waiters)
    assert not bulkhead.try_enter()  # nobody overtakes the queue
    bulkhead.leave()
    assert log.entries == ["a slot"]
    assert bulkhead.stats().active == 1  # handed over, never freed
    bulkhead.leave()
    bulkhead.leave()
    assert log.entries == ["a slot", "b slot", "c slot"]
    bulkhead.leave()
    assert bulkhead.stats().active == 0
    assert bulkhead.try_enter()


def test_a_full_queue_refuses_with_an_event(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    log = Log()
    bulkhead = make(clock, bus, max_concurrent=1, max_queued=1)
    assert bulkhead.try_enter()
    assert log.queue(bulkhead, "a") is not None
    assert log.queue(bulkhead, "b") is None
    [event] = recorder.of(BulkheadRejected)
    assert (event.source, event.reason, event.active, event.queued) == ("route", "queue full", 1, 1)
    assert bulkhead.stats().rejected == 1


def test_a_cancelled_waiter_frees_its_place_at_once(clock: FakeClock) -> None:
    log = Log()
    bulkhead = make(clock, max_concurrent=1, max_queued=2)
    assert bulkhead.try_enter()
    a, b = log.queue(bulkhead, "a"), log.queue(bulkhead, "b")
    assert a is not None
    assert b is not None
    a.cancel()
    assert not a.queued
    assert bulkhead.stats().queued == 1
    assert log.queue(bulkhead, "c") is not None  # a's place is free
    a.cancel()  # twice is harmless
    bulkhead.leave()
    bulkhead.leave()
    assert log.entries == ["b slot", "c slot"]


def test_queue_wait_times_out_in_order_and_reports_it(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    log = Log()
    bulkhead = make(clock, bus, max_concurrent=1, max_queued=3, max_queue_wait=2.0)
    assert bulkhead.try_enter()
    log.queue(bulkhead, "a")
    clock.advance(1.0)
    log.queue(bulkhead, "b")
    cancelled = log.queue(bulkhead, "c")
    assert cancelled is not None
    cancelled.cancel()  # its timer goes with it
    clock.advance(1.0)
    assert log.entries == ["a timeout"]
    bulkhead.leave()  # b still waits: it gets the slot, and its timer is stopped
    clock.advance(5.0)
    assert log.entries == ["a timeout", "b slot"]
    assert [e.reason for e in recorder.of(BulkheadRejected)] == ["queue wait exceeded"]
    assert bulkhead.stats().queued == 0
    assert bulkhead.stats().active == 1


def test_queue_takes_a_free_slot_at_once(clock: FakeClock) -> None:
    log = Log()
    bulkhead = make(clock, max_concurrent=1, max_queued=0)
    waiter = log.queue(bulkhead, "a")
    assert waiter is not None
    assert not waiter.queued
    assert log.entries == ["a slot"]
    assert bulkhead.stats().active == 1


def test_a_waiter_handing_its_slot_back_passes_it_on_without_recursion(clock: FakeClock) -> None:
    bulkhead = make(clock, max_concurrent=1, max_queued=5000)
    assert bulkhead.try_enter()
    served: list[int] = []
    for _ in range(4000):  # deeper than the recursion limit if each hand-back recursed
        bulkhead.queue(bulkhead.leave)
    bulkhead.queue(lambda: served.append(1))
    bulkhead.leave()
    assert served == [1]
    assert bulkhead.stats().active == 1
    assert bulkhead.stats().queued == 0


@pytest.mark.parametrize("max_queued", [0, 2])
def test_stats_count_slots_and_queue(clock: FakeClock, max_queued: int) -> None:
    bulkhead = make(clock, max_concurrent=2, max_queued=max_queued)
    bulkhead.try_enter()
    stats = bulkhead.stats()
    assert (stats.active, stats.queued, stats.max_concurrent, stats.max_queued) == (
        1,
        0,
        2,
        max_queued,
    )
