"""Time, injected.

Every piece of meshkit that reads the time or waits takes a :class:`Clock`. Production code
uses :data:`SYSTEM_CLOCK`; tests use :class:`FakeClock`, whose time only moves when the test
says so, so nothing in the test suite ever sleeps. This is the only module allowed to touch
``time.monotonic``, ``time.time``, ``time.sleep`` and ``asyncio.sleep`` (ruff enforces it).

A clock offers three things:

* ``monotonic()`` / ``time()`` — now, for measuring and for stamping events;
* ``sleep()`` / ``sleep_sync()`` — waiting, for backoff and queues;
* ``call_later()`` — a cancellable timer, which is how timeouts fire without a task per call.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "FakeClock", "SystemClock", "TimerHandle"]


@runtime_checkable
class TimerHandle(Protocol):
    """A scheduled callback that can still be called off."""

    def cancel(self) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """What meshkit needs to know about time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations and deadlines)."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch (for stamping events, never for durations)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` without blocking the event loop."""
        ...

    def sleep_sync(self, seconds: float) -> None:
        """Wait ``seconds`` in a plain synchronous caller."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` on the running event loop after ``delay`` seconds."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and the running event loop's timers."""

    __slots__ = ()

    # The builtins themselves, not wrappers: policies read the clock several times per
    # request, and a Python-level call would cost more than the read.
    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def sleep_sync(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Clock = SystemClock()
"""The process-wide real clock; the default wherever a ``clock`` argument is optional."""


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "due", "seq")

    def __init__(self, due: float, seq: int, callback: Callable[[], None]) -> None:
        self.due = due
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _FakeTimer) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class FakeClock:
    """A clock that stands still until told to move.

    ``advance(dt)`` moves time forward synchronously, firing every timer that falls due in
    order (sleepers are woken by such timers). In async tests use ``await run_for(dt)``: it
    also yields to the event loop between timers, so a task woken by one timer can schedule
    the next sleep and still be woken within the same ``dt``.
    """

    def __init__(self, start: float = 0.0, *, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._timers: list[_FakeTimer] = []
        self._seq = itertools.count()

    # -- reading ---------------------------------------------------------------------------
    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._wall_offset

    @property
    def pending_timers(self) -> int:
        """How many timers (sleepers included) are waiting to fire."""
        return sum(1 for t in self._timers if not t.cancelled)

    # -- timers ------------------------------------------------------------------------------
    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _FakeTimer(self._now + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await future
        finally:
            timer.cancel()

    def sleep_sync(self, seconds: float) -> None:
        """A synchronous sleeper on a fake clock simply lets the time pass."""
        if seconds > 0:
            self.advance(seconds)

    # -- moving time -------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing due timers in order."""
        if seconds < 0:
            raise ValueError("a FakeClock cannot go backwards")
        target = self._now + seconds
        while (timer := self._next_due(target)) is not None:
            self._now = max(self._now, timer.due)
            timer.callback()
        self._now = target

    def set(self, now: float) -> None:
        """Jump to an absolute monotonic time (never backwards)."""
        self.advance(now - self._now)

    async def run_for(self, seconds: float, *, settle_rounds: int = 20) -> None:
        """Advance by ``seconds`` while letting the event loop run woken tasks in between."""
        if seconds < 0:
            raise ValueError("a FakeClock cannot go backwards")
        target = self._now + seconds
        await self.settle(settle_rounds)
        while (timer := self._next_due(target)) is not None:
            self._now = max(self._now, timer.due)
            timer.callback()
            await self.settle(settle_rounds)
        self._now = target
        await self.settle(settle_rounds)

    @staticmethod
    async def settle(rounds: int = 20) -> None:
        """Give ready tasks a few turns of the event loop."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    def _next_due(self, target: float) -> _FakeTimer | None:
        while self._timers:
            head = self._timers[0]
            if head.cancelled:
                heapq.heappop(self._timers)
                continue
            if head.due > target:
                return None
            heapq.heappop(self._timers)
            return head
        return None

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"
