"""Bulkheads: bound how many calls run at once, how many wait, and for how long.

``Bulkhead`` wraps a :class:`~meshkit.resilience.bulkhead.core.BulkheadCore` (see there for
the counts, the queue and its timeouts). Callback code — the gateway — uses the core's three
calls directly (``try_enter``, ``leave``, ``queue``, also offered here); ``execute`` builds the
coroutine path on them: the fast path is ``try_enter``, a queued call awaits a future that the
core's ``on_slot`` resolves, or ``on_timeout`` fails with ``BulkheadFull``.

Cancellation. A waiter cancelled while queued leaves the queue at once, wherever it stands,
so its place goes to the next caller (.NET's ``ConcurrencyLimiter`` does the same); one
cancelled in the current turn of the loop, whose task has not yet run, holds no place either:
a caller finding the queue full first drops such waiters. A waiter cancelled after being
handed a slot passes the slot on, so cancellation never leaks capacity.

``execute_sync`` guards threads with a condition variable and keeps its own counts: one
bulkhead guards either coroutines on one event loop or threads, not a mix of both. Its queue
wait uses real time (a thread cannot wait on a fake clock). A thread cannot be cancelled
while it waits; one that gives up takes itself off the count as it wakes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import BulkheadFull
from meshkit.events import EventBus
from meshkit.resilience._policy import PolicyKind
from meshkit.resilience.bulkhead.core import BulkheadCore, Waiter
from meshkit.resilience.bulkhead.events import BulkheadStats
from meshkit.resilience.bulkhead.options import BulkheadOptions

__all__ = ["Bulkhead"]

T = TypeVar("T")


class Bulkhead:
    """Bound concurrency; see the module docstring."""

    __slots__ = (
        "_cond",
        "_core",
        "_futures",
        "_max",
        "_name",
        "_sync_active",
        "_sync_queued",
        "options",
    )

    def __init__(
        self,
        options: BulkheadOptions,
        *,
        name: str = "bulkhead",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.options = options
        self._name = name
        self._max = options.max_concurrent
        self._core = BulkheadCore(
            options.max_concurrent,
            options.max_queued,
            options.max_queue_wait,
            name=name,
            clock=clock,
            events=events,
        )
        # The coroutines queued by execute, with the futures they await: a future cancelled
        # in this turn of the loop marks a place that is already free.
        self._futures: dict[Waiter, asyncio.Future[None]] = {}
        self._cond = threading.Condition()
        self._sync_active = 0
        self._sync_queued = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.BULKHEAD

    @property
    def core(self) -> BulkheadCore:
        """The counts and queue, for callback code that holds them directly (compiled)."""
        return self._core

    def stats(self) -> BulkheadStats:
        abandoned = sum(1 for w, f in self._futures.items() if w.queued and f.done())
        core = self._core
        return BulkheadStats(
            active=core.active + self._sync_active,
            queued=core.queued - abandoned + self._sync_queued,
            max_concurrent=self._max,
            max_queued=self.options.max_queued,
            rejected=core.rejected,
        )

    # -- for callback code (the core's calls; see bulkhead.core) -----------------------------
    def try_enter(self) -> bool:
        """Take a slot if one is free and nobody is queued ahead; no event on success."""
        return self._core.try_enter()

    def leave(self) -> None:
        """Free a slot; if someone waits, it passes to the longest waiter (its ``on_slot``
        is called before this returns)."""
        self._core.leave()

    def queue(
        self, on_slot: Callable[[], None], on_timeout: Callable[[], None] | None = None
    ) -> Waiter | None:
        """Wait for a slot (``None``: the queue is full, ``BulkheadRejected`` emitted). After
        ``max_queue_wait`` the waiter leaves the queue, ``BulkheadRejected`` is emitted and
        ``on_timeout`` called; ``Waiter.cancel()`` leaves the queue at once."""
        return self._core.queue(on_slot, on_timeout)

    # -- async -------------------------------------------------------------------------------
    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        core = self._core
        if not core.try_enter():
            await self._wait_for_slot()
        try:
            return await fn(*args, **kwargs)
        finally:
            core.leave()

    async def _wait_for_slot(self) -> None:
        core = self._core
        if core.queued >= core.max_queued:
            self._forget_abandoned()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_slot() -> None:
            if future.done():  # cancelled this turn, its task not yet run: pass the slot on
                core.leave()
            else:
                future.set_result(None)  # the slot moves to the waiter; the count stays

        def on_timeout() -> None:
            if not future.done():
                future.set_exception(self._full("queue wait exceeded"))

        waiter = core.queue(on_slot, on_timeout)
        if waiter is None:
            raise self._full("queue full")
        if not waiter.queued:  # a slot was free after all, and is ours
            return
        self._futures[waiter] = future
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                core.leave()  # a slot was handed to us as we were cancelled: pass it on
            else:
                waiter.cancel()
            raise
        finally:
            del self._futures[waiter]

    def _forget_abandoned(self) -> None:
        """Drop the waiters cancelled during this turn of the loop: their tasks have not yet
        run to leave the queue, but their places are free."""
        for waiter, future in list(self._futures.items()):
            if future.done() and waiter.queued:
                waiter.cancel()

    # -- sync --------------------------------------------------------------------------------
    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        cond = self._cond
        with cond:
            if self._sync_active >= self._max:
                if self._sync_queued >= self.options.max_queued:
                    raise self._refuse_sync("queue full", self._sync_queued)
                self._sync_queued += 1
                try:
                    got = cond.wait_for(
                        lambda: self._sync_active < self._max, self.options.max_queue_wait
                    )
                finally:
                    self._sync_queued -= 1
                if not got:
                    raise self._refuse_sync("queue wait exceeded", self._sync_queued)
            self._sync_active += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with cond:
                self._sync_active -= 1
                cond.notify()

    # -- internals ---------------------------------------------------------------------------
    def _refuse_sync(self, reason: str, queued: int) -> BulkheadFull:
        self._core.refused(reason, self._core.active + self._sync_active, queued)
        return self._full(reason)

    def _full(self, reason: str) -> BulkheadFull:
        """The error for a refusal the core has already counted and reported."""
        active = self._core.active + self._sync_active
        return BulkheadFull(f"{self._name}: {reason} ({active} running)", policy=self._name)

    def __repr__(self) -> str:
        return f"Bulkhead(name={self._name!r}, max_concurrent={self._max})"
