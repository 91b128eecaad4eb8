"""An observer that records events, for assertions in tests."""

from __future__ import annotations

from typing import TypeVar

from meshkit.events import Event, EventBus, Subscription

__all__ = ["EventRecorder"]

E = TypeVar("E", bound=Event)


class EventRecorder:
    """Records every event published on ``bus`` (optionally only some types).

    >>> bus = EventBus(); rec = EventRecorder(bus)
    >>> rec.of(SomeEvent)  # the recorded events of one type, in order
    """

    def __init__(self, bus: EventBus, *, types: tuple[type[Event], ...] = ()) -> None:
        self.events: list[Event] = []
        self._sub: Subscription = bus.subscribe(self.events.append, types=types)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def clear(self) -> None:
        self.events.clear()

    def close(self) -> None:
        self._sub.close()

    def __len__(self) -> int:
        return len(self.events)
