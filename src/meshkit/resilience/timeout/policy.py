"""Timeouts that cancel the work, without a timer per call.

Theory of operation
-------------------
``asyncio.timeout`` schedules and cancels one loop timer per call; under load that heap churn
is most of what a timeout costs. A ``Timeout`` policy has one fixed duration, so deadlines of
successive calls arrive in increasing order: a plain FIFO queue *is* a deadline-ordered queue.
Each call appends a small ``_Deadline`` record; a single timer, armed for the oldest live
deadline, expires records in order and re-arms for the next. Finished records are dropped from
the head as new calls arrive, so the queue stays as long as the number of calls in flight.

When a deadline passes, the policy cancels the task running the call (so whatever the call
awaits is cancelled too), and the call's own frame turns that cancellation into
``TimeoutExceeded`` — after ``Task.uncancel()``, so an outer cancellation of the caller is
never mistaken for a timeout and nested timeouts (total and per-attempt) each report their own.

Plain synchronous functions cannot be interrupted in Python. ``execute_sync`` therefore runs
the function on a worker thread and stops waiting at the deadline (Polly's "pessimistic"
timeout): the caller gets ``TimeoutExceeded`` on time, while the abandoned function runs to
completion in the background and its result is discarded. That wait uses real time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from meshkit.clock import SYSTEM_CLOCK, Clock, TimerHandle
from meshkit.errors import TimeoutExceeded
from meshkit.events import EventBus
from meshkit.resilience._policy import PolicyKind
from meshkit.resilience._threads import worker_pool
from meshkit.resilience.timeout.events import TimeoutOccurred
from meshkit.resilience.timeout.options import TimeoutOptions

__all__ = ["Timeout"]

T = TypeVar("T")


class _Deadline:
    __slots__ = ("at", "cancelling", "done", "fired", "task")

    def __init__(self, at: float, task: asyncio.Task[Any] | None) -> None:
        self.at = at
        self.task = task
        # Cancellations already requested when the call began: any beyond ours after the
        # deadline fires belong to someone else (the caller) and must win over the timeout.
        self.cancelling = task.cancelling() if task is not None else 0
        self.done = False
        self.fired = False


class Timeout:
    """Cancel a call that runs longer than ``options.seconds``; raise ``TimeoutExceeded``."""

    __slots__ = ("_clock", "_events", "_kind", "_name", "_pending", "_seconds", "_timer", "options")

    def __init__(
        self,
        options: TimeoutOptions,
        *,
        name: str = "timeout",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.options = options
        self._seconds = options.seconds
        self._kind = PolicyKind.ATTEMPT_TIMEOUT if options.per_attempt else PolicyKind.TOTAL_TIMEOUT
        self._name = name
        self._clock = clock
        self._events = events
        self._pending: deque[_Deadline] = deque()
        self._timer: TimerHandle | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return self._kind

    @property
    def in_flight(self) -> int:
        """Calls currently being timed (for tests and introspection)."""
        return sum(1 for d in self._pending if not d.done)

    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        task = asyncio.current_task()
        deadline = _Deadline(self._clock.monotonic() + self._seconds, task)
        pending = self._pending
        while pending and pending[0].done:  # drop finished records so the queue stays short
            pending.popleft()
        pending.append(deadline)
        if self._timer is None:
            self._timer = self._clock.call_later(self._seconds, self._expire)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            deadline.done = True
            if deadline.fired and self._ours(deadline):
                raise self.exceeded() from (
                    None if isinstance(exc, asyncio.CancelledError) else exc
                )
            raise
        deadline.done = True
        if deadline.fired and self._ours(deadline):
            # The callee swallowed our cancellation; the deadline passed all the same.
            raise self.exceeded()
        return result

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        context = contextvars.copy_context()
        future = worker_pool("timeout").submit(context.run, fn, *args, **kwargs)
        try:
            return future.result(timeout=self._seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()  # only helps if it had not started yet
            self._emit()
            raise TimeoutExceeded(
                f"{self._name}: call exceeded {self._seconds:g}s", policy=self._name
            ) from None

    # -- internals -------------------------------------------------------------------------
    def _expire(self) -> None:
        self._timer = None
        pending = self._pending
        now = self._clock.monotonic()
        while pending:
            head = pending[0]
            if head.done:
                pending.popleft()
                continue
            if head.at > now:
                # Loop timers may fire a hair early relative to our clock: re-arm for the rest.
                self._timer = self._clock.call_later(head.at - now, self._expire)
                return
            pending.popleft()
            head.fired = True
            if head.task is not None:
                head.task.cancel()

    @staticmethod
    def _ours(deadline: _Deadline) -> bool:
        """Withdraw our cancellation; True when no one else asked to cancel the task."""
        task = deadline.task
        return task is None or task.uncancel() <= deadline.cancelling

    def exceeded(self) -> TimeoutExceeded:
        """For a caller that enforces the deadline itself (the gateway, with one timer per
        request): report the timeout as ``execute`` does (``TimeoutOccurred``) and return the
        error that says so."""
        self._emit()
        return TimeoutExceeded(f"{self._name}: call exceeded {self._seconds:g}s", policy=self._name)

    def _emit(self) -> None:
        events = self._events
        if events is not None and events.active:
            events.publish(
                TimeoutOccurred(source=self._name, at=self._clock.time(), seconds=self._seconds)
            )

    def __repr__(self) -> str:
        return f"Timeout({self._seconds:g}s, name={self._name!r}, kind={self._kind.name})"
