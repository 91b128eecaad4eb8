"""The bulkhead's counts and queue, for callers with no task to suspend (compiled).

Theory of operation
-------------------
A count of slots taken and a FIFO of :class:`Waiter`\\ s, driven by three synchronous calls:

* ``try_enter()`` takes a slot if one is free *and nobody is queued* (a newcomer must not
  overtake a waiter): one comparison, one length test and an increment; no event on success.
* ``queue(on_slot, on_timeout)`` joins the queue if fewer than ``max_queued`` wait, else
  counts a refusal, emits ``BulkheadRejected("queue full")`` and returns ``None``.
* ``leave()`` frees a slot. If someone waits, the slot passes straight to the longest waiter,
  whose ``on_slot`` is called synchronously, instead of being freed: the count never dips, so
  an arrival between the release and the waiter's turn cannot steal it.

Queue timeouts live here, not with the caller: the bulkhead knows its ``max_queue_wait``, so
``queue`` arms one clock timer per *queued* caller (none on the fast path) and, when it fires,
takes the waiter out of the queue, emits ``BulkheadRejected("queue wait exceeded")`` and calls
``on_timeout``. Both faces therefore time out alike, and a caller has one object to cancel.
``Waiter.cancel()`` leaves the queue at once, wherever the waiter stands (its timer too), so
its place goes to the next caller instead of being held until a release reaches it.

A callback that cannot use the slot it is handed (its request is gone) calls ``leave()``
again; that reentrant call passes the slot on from the same loop, so a row of such waiters
costs no recursion. Callbacks must not raise.

One core belongs to one thread (an event loop): no locks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from meshkit.clock import Clock, TimerHandle
from meshkit.events import EventBus
from meshkit.resilience.bulkhead.events import BulkheadRejected

__all__ = ["BulkheadCore", "Waiter"]


class Waiter:
    """A place in a bulkhead's queue; ``cancel()`` gives it up."""

    __slots__ = ("_core", "_on_slot", "_on_timeout", "_timer", "queued")

    def __init__(
        self,
        core: BulkheadCore,
        on_slot: Callable[[], None],
        on_timeout: Callable[[], None] | None,
    ) -> None:
        self._core = core
        self._on_slot = on_slot
        self._on_timeout = on_timeout
        self._timer: TimerHandle | None = None
        self.queued = True  # False once handed a slot, timed out or cancelled

    def cancel(self) -> None:
        """Leave the queue now (nothing happens if the waiter already left it)."""
        if not self.queued:
            return
        self.queued = False
        self._stop_timer()
        self._core._drop(self)

    def _stop_timer(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()

    def _grant(self) -> None:
        self.queued = False
        self._stop_timer()
        self._on_slot()

    def _expire(self) -> None:
        self._timer = None
        if not self.queued:
            return
        self.queued = False
        core = self._core
        core._drop(self)
        core.refused("queue wait exceeded", core.active, len(core._queue))
        on_timeout = self._on_timeout
        if on_timeout is not None:
            on_timeout()


class BulkheadCore:
    """Slots and a queue; see the module docstring."""

    __slots__ = (
        "_clock",
        "_events",
        "_handing",
        "_name",
        "_queue",
        "_returned",
        "active",
        "max_concurrent",
        "max_queue_wait",
        "max_queued",
        "rejected",
    )

    def __init__(
        self,
        max_concurrent: int,
        max_queued: int,
        max_queue_wait: float | None,
        *,
        name: str,
        clock: Clock,
        events: EventBus | None,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.max_queue_wait = max_queue_wait
        self._name = name
        self._clock = clock
        self._events = events
        self.active = 0
        self.rejected = 0
        self._queue: deque[Waiter] = deque()
        self._handing = False  # leave() is passing a slot down the queue
        self._returned = 0  # slots handed back by callbacks during that

    @property
    def queued(self) -> int:
        return len(self._queue)

    def try_enter(self) -> bool:
        """Take a slot if one is free and nobody waits for one."""
        if self.active < self.max_concurrent and not self._queue:
            self.active += 1
            return True
        return False

    def leave(self) -> None:
        """Free a slot, or hand it to the longest waiter."""
        if self._handing:  # a waiter's callback handed its slot back: the loop below goes on
            self._returned += 1
            return
        queue = self._queue
        if not queue:
            self.active -= 1
            return
        self._handing = True
        free = 1
        try:
            while free and queue:
                free -= 1
                queue.popleft()._grant()
                free += self._returned
                self._returned = 0
        finally:
            self._handing = False
        self.active -= free

    def queue(
        self, on_slot: Callable[[], None], on_timeout: Callable[[], None] | None = None
    ) -> Waiter | None:
        """Wait for a slot: ``on_slot`` is called when one is handed over, ``on_timeout``
        if ``max_queue_wait`` passes first. ``None``: the queue is full (refusal counted and
        reported). If a slot is free and nobody waits, it is taken and ``on_slot`` is called
        before this returns a waiter that has already left the queue."""
        waiter = Waiter(self, on_slot, on_timeout)
        if self.try_enter():
            waiter._grant()
            return waiter
        queue = self._queue
        if len(queue) >= self.max_queued:
            self.refused("queue full", self.active, len(queue))
            return None
        queue.append(waiter)
        wait = self.max_queue_wait
        if wait is not None:
            waiter._timer = self._clock.call_later(wait, waiter._expire)
        return waiter

    def refused(self, reason: str, active: int, queued: int) -> None:
        """Count a refusal and report it (``BulkheadRejected``)."""
        self.rejected += 1
        events = self._events
        if events is not None and events.active:
            events.publish(
                BulkheadRejected(
                    source=self._name,
                    at=self._clock.time(),
                    reason=reason,
                    active=active,
                    queued=queued,
                )
            )

    def _drop(self, waiter: Waiter) -> None:
        self._queue.remove(waiter)
