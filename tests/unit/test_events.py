from __future__ import annotations

import asyncio
from dataclasses import FrozenInstanceError, dataclass

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError
from meshkit.events import Event, EventBus, describe
from meshkit.testing import EventRecorder


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping(Event):
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(Event):
    pass


def test_events_are_frozen() -> None:
    event = Ping(source="a", at=1.0, n=1)
    with pytest.raises(FrozenInstanceError):
        event.n = 2  # type: ignore[misc]
    assert describe(event) == {"kind": "Ping", "source": "a", "at": 1.0, "n": 1}


def test_filters_by_type_and_source(bus: EventBus) -> None:
    pings = EventRecorder(bus, types=(Ping,))
    from_b: list[Event] = []
    bus.subscribe(from_b.append, source="b")
    bus.publish(Ping(source="a", at=0, n=1))
    bus.publish(Pong(source="b", at=0))
    assert [e.kind for e in pings.events] == ["Ping"]
    assert [e.kind for e in from_b] == ["Pong"]


def test_raising_observer_never_reaches_the_publisher(bus: EventBus) -> None:
    def broken(_: Event) -> None:
        raise RuntimeError("observer bug")

    bus.subscribe(broken)
    seen = EventRecorder(bus)
    bus.publish(Ping(source="a", at=0, n=1))
    bus.publish(Ping(source="a", at=0, n=2))
    assert bus.observer_errors == 2
    assert len(seen) == 2


def test_unsubscribe_stops_delivery(bus: EventBus) -> None:
    rec = EventRecorder(bus)
    assert bus.active
    rec.close()
    assert not bus.active
    bus.publish(Ping(source="a", at=0, n=1))
    assert len(rec) == 0


async def test_slow_async_observer_never_blocks_and_drops_overflow() -> None:
    bus = EventBus(async_queue_size=2)
    release = asyncio.Event()
    got: list[Event] = []

    async def slow(event: Event) -> None:
        await release.wait()
        got.append(event)

    sub = bus.subscribe_async(slow)
    for n in range(5):  # returns at once although the observer is stuck
        bus.publish(Ping(source="a", at=0, n=n))
    await FakeClock.settle()
    assert sub.dropped >= 2
    release.set()
    await FakeClock.settle()
    assert 1 <= len(got) <= 3
    await bus.aclose()


async def test_failing_async_observer_is_counted(bus: EventBus) -> None:
    async def broken(_: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe_async(broken)
    bus.publish(Ping(source="a", at=0, n=1))
    await FakeClock.settle()
    assert bus.observer_errors == 1
    await bus.aclose()


def test_queue_size_is_validated() -> None:
    with pytest.raises(ConfigError, match="async_queue_size"):
        EventBus(async_queue_size=0)
