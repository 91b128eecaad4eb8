"""Hedging: if a call is slow, start another; the first success wins, the rest are cancelled.

Theory of operation
-------------------
Tail latency often comes from one slow replica or one lost packet, not from the request. A
hedge races a second attempt against the first after ``delay`` seconds (set it near the p95 of
the call), up to ``max_hedged_attempts`` extra attempts. An attempt that *fails* starts the
next one at once rather than waiting out the delay (Polly's behaviour). The first attempt that
succeeds is returned and every other attempt still running is cancelled. If all attempts fail,
the last failure is raised unchanged (or the last failed result returned). A failure the
options do not handle ends the race immediately.

Each attempt runs as its own task (so it can be cancelled alone); hedging is therefore for
idempotent calls only. ``execute`` returns (or raises) only once its cancelled losers have
finished, as Polly does: their cleanup (closing a connection, say) is part of the call, so
it never runs on after the caller has moved on, and an error in it is handed to the event
loop's exception handler (it cannot be the call's outcome: the winner is) rather than lost.
An attempt that ignores its cancellation therefore holds the call until it ends.

``execute_sync`` races threads and uses real time. Attempts still queued for a worker when the
race ends are cancelled; a losing thread already running cannot be, and waiting for it would
undo the hedge, so the call returns at once and the loser's outcome is discarded when it
finishes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from meshkit.clock import SYSTEM_CLOCK, Clock, TimerHandle
from meshkit.events import EventBus
from meshkit.resilience._policy import PolicyKind
from meshkit.resilience._threads import worker_pool
from meshkit.resilience.hedging.events import HedgeStarted
from meshkit.resilience.hedging.options import HedgingOptions

__all__ = ["Hedging"]

T = TypeVar("T")


class Hedging:
    """Race extra attempts against a slow call; see the module docstring."""

    __slots__ = ("_clock", "_events", "_handle", "_name", "options")

    def __init__(
        self,
        options: HedgingOptions,
        *,
        name: str = "hedging",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.options = options
        self._name = name
        self._clock = clock
        self._events = events
        self._handle = options.handle

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.HEDGING

    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        race = _Race(self, lambda: fn(*args, **kwargs))
        race.start("first")
        try:
            while True:
                await race.wake.wait()
                race.wake.clear()
                if race.settle():
                    return race.winner  # type: ignore[no-any-return]
        finally:
            await race.close()

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        total = 1 + self.options.max_hedged_attempts
        pool = worker_pool("hedge")
        running: set[concurrent.futures.Future[T]] = set()
        failure: tuple[BaseException | None, Any] = (None, None)
        started = 0
        reason = "first"
        while True:
            if started < total and reason:
                started += 1
                if started > 1:
                    self._emit(started, reason)
                running.add(pool.submit(contextvars.copy_context().run, fn, *args, **kwargs))
            timeout = self.options.delay if started < total else None
            done, _ = concurrent.futures.wait(
                running, timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
            )
            reason = "slow" if not done else ""
            for future in done:
                running.discard(future)
                error = future.exception()
                if error is None:
                    result = future.result()
                    if not self._handle.is_failure_result(result):
                        _cancel_queued(running)
                        return result
                    failure = (None, result)
                elif self._handle.is_failure(error):
                    failure = (error, None)
                else:
                    _cancel_queued(running)
                    raise error
                reason = "failed"
            if not running and started >= total:
                error, result = failure
                if error is not None:
                    raise error
                return result

    def _emit(self, attempt: int, reason: str) -> None:
        events = self._events
        if events is not None and events.active:
            events.publish(
                HedgeStarted(
                    source=self._name, at=self._clock.time(), attempt=attempt, reason=reason
                )
            )

    def __repr__(self) -> str:
        return f"Hedging(name={self._name!r}, delay={self.options.delay:g}s)"


class _Race:
    """The state of one hedged call: attempts running, the delay timer, the last failure."""

    __slots__ = (
        "delay_passed",
        "failure",
        "launch",
        "policy",
        "running",
        "started",
        "timer",
        "total",
        "wake",
        "winner",
    )

    def __init__(self, policy: Hedging, launch: Callable[[], Awaitable[Any]]) -> None:
        self.policy = policy
        self.launch = launch
        self.wake = asyncio.Event()
        self.delay_passed = False
        self.running: list[asyncio.Future[Any]] = []
        self.started = 0
        self.total = 1 + policy.options.max_hedged_attempts
        self.timer: TimerHandle | None = None
        self.failure: tuple[BaseException | None, Any] = (None, None)
        self.winner: Any = None

    def start(self, reason: str) -> None:
        self.started += 1
        if self.started > 1:
            self.policy._emit(self.started, reason)
        task = asyncio.ensure_future(self.launch())
        task.add_done_callback(self._on_done)
        self.running.append(task)
        self.delay_passed = False
        if self.timer is not None:
            self.timer.cancel()
        self.timer = None
        if self.started < self.total:
            clock = self.policy._clock
            self.timer = clock.call_later(self.policy.options.delay, self._on_delay)

    def settle(self) -> bool:
        """Look at finished attempts: True when the race is decided (``winner`` holds the
        answer); raises the failure that ends it; starts the next attempt when due."""
        handle = self.policy.options.handle
        failed_now = False
        for task in [t for t in self.running if t.done()]:
            self.running.remove(task)
            error = task.exception()
            if error is None:
                result = task.result()
                if not handle.is_failure_result(result):
                    self.winner = result
                    return True
                self.failure = (None, result)
            elif handle.is_failure(error):
                self.failure = (error, None)
            else:
                raise error
            failed_now = True
        if self.started < self.total and (failed_now or self.delay_passed):
            self.start("failed" if failed_now else "slow")
        elif not self.running:
            error, result = self.failure
            if error is not None:
                raise error
            self.winner = result
            return True
        return False

    async def close(self) -> None:
        """Cancel the attempts still running and wait until they have finished."""
        if self.timer is not None:
            self.timer.cancel()
        losers = []
        for task in self.running:
            if task.done():  # finished in the same turn as the deciding one: it lost anyway
                if not task.cancelled():
                    task.exception()  # retrieved, so asyncio does not warn about it later
                continue
            # Registered before the wait below, so it runs before the caller resumes; and it
            # still reports if the caller is cancelled again while waiting.
            task.add_done_callback(self._on_loser_done)
            task.cancel()
            losers.append(task)
        if losers:
            await asyncio.wait(losers)

    def _on_loser_done(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            message = f"{self.policy.name}: a cancelled hedged attempt failed as it stopped"
            context = {"message": message, "exception": error, "future": task}
            task.get_loop().call_exception_handler(context)

    def _on_delay(self) -> None:
        self.delay_passed = True
        self.wake.set()

    def _on_done(self, _: object) -> None:
        self.wake.set()


def _cancel_queued(running: set[concurrent.futures.Future[Any]]) -> None:
    """Cancel the losers still queued for a worker (a running thread cannot be stopped)."""
    for loser in running:
        loser.cancel()
