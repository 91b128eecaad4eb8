"""Typed events and the bus that carries them.

Policies *emit* events (a breaker opened, a retry was scheduled, a limiter said no); metrics,
logs, alerting and tests *observe* them. A policy never imports a metrics library.

Theory of operation
-------------------
``EventBus.publish`` runs on the caller's path, so it must stay cheap and must never fail or
wait because of an observer:

* with no subscribers it is one attribute read (policies may also check ``bus.active`` before
  building an event at all);
* a *sync* observer is called inline inside ``try``; if it raises, the error is logged once
  per observer and counted in ``observer_errors`` — the caller never sees it. Sync observers
  are for cheap work (counting, recording); anything slow belongs in an async observer;
* an *async* observer gets its own bounded queue drained by its own task; when the observer
  falls behind, new events for it are dropped and counted in ``dropped`` rather than queued
  without bound or awaited by the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from meshkit import _validate

__all__ = ["Event", "EventBus", "Subscription", "describe"]

_log = logging.getLogger("meshkit.events")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event: ``source`` names the emitter (a policy or service), ``at`` is
    wall-clock seconds from the emitter's clock."""

    source: str
    at: float

    @property
    def kind(self) -> str:
        return type(self).__name__


SyncObserver = Callable[[Event], None]
AsyncObserver = Callable[[Event], Awaitable[None]]


@dataclass(slots=True, eq=False)
class Subscription:
    """A registered observer; ``close()`` (or ``bus.unsubscribe``) removes it."""

    bus: EventBus
    types: tuple[type[Event], ...]
    source: str | None
    observer: SyncObserver | None = None
    queue: asyncio.Queue[Event] | None = None
    task: asyncio.Task[None] | None = None
    dropped: int = 0
    errors: int = 0
    _warned: bool = field(default=False, repr=False)

    def matches(self, event: Event) -> bool:
        if self.types and not isinstance(event, self.types):
            return False
        return self.source is None or self.source == event.source

    def close(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    """Fan events out to observers without ever hurting the publisher."""

    def __init__(self, *, async_queue_size: int = 1024) -> None:
        _validate.integer("async_queue_size", async_queue_size)
        _validate.at_least("async_queue_size", async_queue_size, 1)
        self._subs: list[Subscription] = []
        self._queue_size = async_queue_size
        self.observer_errors = 0

    @property
    def active(self) -> bool:
        """True when at least one observer listens (lets emitters skip building events)."""
        return bool(self._subs)

    def subscribe(
        self,
        observer: SyncObserver,
        *,
        types: tuple[type[Event], ...] | type[Event] = (),
        source: str | None = None,
    ) -> Subscription:
        """Call ``observer(event)`` inline for matching events. Keep it cheap."""
        sub = Subscription(self, _as_tuple(types), source, observer=observer)
        self._subs = [*self._subs, sub]
        return sub

    def subscribe_async(
        self,
        observer: AsyncObserver,
        *,
        types: tuple[type[Event], ...] | type[Event] = (),
        source: str | None = None,
    ) -> Subscription:
        """Deliver matching events to ``await observer(event)`` from a task of its own.

        Must be called with a running event loop. Events the observer cannot keep up with are
        dropped and counted in ``subscription.dropped``.
        """
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        sub = Subscription(self, _as_tuple(types), source, queue=queue)
        sub.task = asyncio.get_running_loop().create_task(self._drain(sub, observer))
        self._subs = [*self._subs, sub]
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs = [s for s in self._subs if s is not sub]
        if sub.task is not None:
            sub.task.cancel()

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every matching observer; never raises, never waits."""
        for sub in self._subs:  # the list is replaced, never mutated, so iteration is safe
            if not sub.matches(event):
                continue
            if sub.queue is not None:
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.dropped += 1
                continue
            try:
                sub.observer(event)  # type: ignore[misc]
            except Exception:
                self._observer_failed(sub)

    async def aclose(self) -> None:
        """Stop every async observer task (pending events are discarded)."""
        subs, self._subs = self._subs, []
        for sub in subs:
            if sub.task is not None:
                sub.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sub.task

    async def _drain(self, sub: Subscription, observer: AsyncObserver) -> None:
        assert sub.queue is not None
        while True:
            event = await sub.queue.get()
            try:
                await observer(event)
            except Exception:
                self._observer_failed(sub)

    def _observer_failed(self, sub: Subscription) -> None:
        sub.errors += 1
        self.observer_errors += 1
        if not sub._warned:
            sub._warned = True
            _log.exception("event observer %r failed; later failures are only counted", sub)


def _as_tuple(types: tuple[type[Event], ...] | type[Event]) -> tuple[type[Event], ...]:
    return types if isinstance(types, tuple) else (types,)


def describe(event: Event) -> dict[str, Any]:
    """A plain-dict view of an event (for logs, JSON and tables)."""
    return {"kind": event.kind, **asdict(event)}
