"""Bulkheads: bound how many calls run at once, how many wait, and for how long.

Theory of operation
-------------------
The async path is an integer and a FIFO of waiter futures. Entering is one comparison and an
increment while there is room and nobody is queued (so a newcomer cannot overtake a waiter).
When full, a caller queues if fewer than ``max_queued`` wait, else it is refused at once with
``BulkheadFull``; a queued caller gives up after ``max_queue_wait`` seconds (one clock timer
per *waiting* call, none on the fast path). Leaving hands the slot straight to the oldest live
waiter instead of decrementing, so the count never dips and a burst of arrivals cannot steal
the slot between the release and the waiter's wake-up. A waiter cancelled after being handed
a slot passes the slot on, so cancellation never leaks capacity. A waiter cancelled (or giving
up) while queued leaves the queue at once, wherever it stands, so its place goes to the next
caller rather than being held until a release reaches it (.NET's ``ConcurrencyLimiter`` does
the same); one cancelled in the current turn of the loop, whose task has not yet run, holds
no place either.

``execute_sync`` guards threads with a condition variable and keeps its own counts: one
bulkhead guards either coroutines on one event loop or threads, not a mix of both. Its queue
wait uses real time (a thread cannot wait on a fake clock). A thread cannot be cancelled
while it waits; one that gives up takes itself off the count as it wakes.

``BulkheadPools`` holds named bulkheads — the critical / normal / background split, so a flood
of background work cannot take the capacity that user-facing calls need.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from meshkit import _validate
from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import BulkheadFull, ConfigError
from meshkit.events import Event, EventBus
from meshkit.resilience._policy import PolicyKind

__all__ = ["Bulkhead", "BulkheadOptions", "BulkheadPools", "BulkheadRejected", "BulkheadStats"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkheadOptions:
    """``max_concurrent`` calls run at once; up to ``max_queued`` more wait for a slot, each
    for at most ``max_queue_wait`` seconds (``None``: as long as it takes)."""

    max_concurrent: int
    max_queued: int = 0
    max_queue_wait: float | None = None

    def __post_init__(self) -> None:
        for option in ("max_concurrent", "max_queued"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{option} must be an integer, got {value!r}", option=option)
        _validate.at_least("max_concurrent", self.max_concurrent, 1)
        _validate.at_least("max_queued", self.max_queued, 0)
        if self.max_queue_wait is not None:
            _validate.positive("max_queue_wait", self.max_queue_wait)


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkheadRejected(Event):
    """A call was refused: ``reason`` is ``"queue full"`` or ``"queue wait exceeded"``."""

    reason: str
    active: int
    queued: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkheadStats:
    active: int
    queued: int
    max_concurrent: int
    max_queued: int
    rejected: int


class Bulkhead:
    """Bound concurrency; see the module docstring."""

    __slots__ = (
        "_active",
        "_clock",
        "_cond",
        "_events",
        "_max",
        "_name",
        "_rejected",
        "_sync_active",
        "_sync_queued",
        "_waiters",
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
        self._clock = clock
        self._events = events
        self._max = options.max_concurrent
        self._active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._rejected = 0
        self._cond = threading.Condition()
        self._sync_active = 0
        self._sync_queued = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.BULKHEAD

    def stats(self) -> BulkheadStats:
        return BulkheadStats(
            active=self._active + self._sync_active,
            queued=sum(1 for w in self._waiters if not w.done()) + self._sync_queued,
            max_concurrent=self._max,
            max_queued=self.options.max_queued,
            rejected=self._rejected,
        )

    # -- async -------------------------------------------------------------------------------
    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        if self._active < self._max and not self._waiters:
            self._active += 1
        else:
            await self._wait_for_slot()
        try:
            return await fn(*args, **kwargs)
        finally:
            self._release()

    async def _wait_for_slot(self) -> None:
        waiters = self._waiters
        if waiters and (len(waiters) >= self.options.max_queued or self._active < self._max):
            self._forget_abandoned()
        if self._active < self._max and not waiters:
            self._active += 1
            return
        if len(waiters) >= self.options.max_queued:
            raise self._reject("queue full", len(waiters))
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        limit = self.options.max_queue_wait

        def give_up() -> None:
            waiter.cancel()

        timer = None if limit is None else self._clock.call_later(limit, give_up)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # a slot was handed to us as we were cancelled: pass it on
                raise
            self._leave(waiter)
            if timer is not None and not _cancelling():
                raise self._reject("queue wait exceeded", len(waiters)) from None
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _leave(self, waiter: asyncio.Future[None]) -> None:
        """Give up ``waiter``'s place in the queue, wherever it stands."""
        with contextlib.suppress(ValueError):  # a release already dropped it
            self._waiters.remove(waiter)

    def _forget_abandoned(self) -> None:
        """Drop the waiters cancelled during this turn of the loop: their tasks have not yet
        run to leave the queue, but their places are free."""
        waiters = self._waiters
        for _ in range(len(waiters)):
            waiter = waiters.popleft()
            if not waiter.done():
                waiters.append(waiter)  # a full turn keeps the live ones in order

    def _release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to the waiter; the count stays
                return
        self._active -= 1

    # -- sync --------------------------------------------------------------------------------
    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        cond = self._cond
        with cond:
            if self._sync_active >= self._max:
                if self._sync_queued >= self.options.max_queued:
                    raise self._reject("queue full", self._sync_queued)
                self._sync_queued += 1
                try:
                    got = cond.wait_for(
                        lambda: self._sync_active < self._max, self.options.max_queue_wait
                    )
                finally:
                    self._sync_queued -= 1
                if not got:
                    raise self._reject("queue wait exceeded", self._sync_queued)
            self._sync_active += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with cond:
                self._sync_active -= 1
                cond.notify()

    # -- internals ---------------------------------------------------------------------------
    def _reject(self, reason: str, queued: int) -> BulkheadFull:
        self._rejected += 1
        events = self._events
        active = self._active + self._sync_active
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
        return BulkheadFull(f"{self._name}: {reason} ({active} running)", policy=self._name)

    def __repr__(self) -> str:
        return f"Bulkhead(name={self._name!r}, max_concurrent={self._max})"


def _cancelling() -> bool:
    """Whether someone other than our own timer asked to cancel the current task."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class BulkheadPools(Mapping[str, Bulkhead]):
    """Named bulkheads, e.g. ``critical`` / ``normal`` / ``background``.

    >>> pools = BulkheadPools.split(100)  # 50 critical, 30 normal, 20 background
    >>> await pools["background"].execute(reindex)
    """

    def __init__(
        self,
        pools: Mapping[str, BulkheadOptions],
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        if not pools:
            raise ConfigError("at least one pool is needed", option="pools")
        self._pools = {
            name: Bulkhead(options, name=f"bulkhead:{name}", clock=clock, events=events)
            for name, options in pools.items()
        }

    @classmethod
    def split(
        cls,
        total: int,
        *,
        shares: Mapping[str, float] | None = None,
        queue_factor: float = 1.0,
        max_queue_wait: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> BulkheadPools:
        """Divide ``total`` slots by ``shares`` (default critical 50 %, normal 30 %,
        background 20 %); each pool gets at least one slot and queues ``queue_factor`` times
        its slots."""
        shares = shares or {"critical": 0.5, "normal": 0.3, "background": 0.2}
        _validate.at_least("total", total, len(shares))
        _validate.at_least("queue_factor", queue_factor, 0)
        if any(share <= 0 for share in shares.values()) or sum(shares.values()) > 1 + 1e-9:
            raise ConfigError(
                f"shares must be positive and sum to at most 1, got {dict(shares)!r}",
                option="shares",
            )
        options = {}
        for name, share in shares.items():
            slots = max(1, int(total * share))
            options[name] = BulkheadOptions(
                max_concurrent=slots,
                max_queued=int(slots * queue_factor),
                max_queue_wait=max_queue_wait,
            )
        return cls(options, clock=clock, events=events)

    def __getitem__(self, name: str) -> Bulkhead:
        try:
            return self._pools[name]
        except KeyError:
            known = ", ".join(sorted(self._pools))
            raise KeyError(f"no bulkhead pool {name!r}; pools are: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)
