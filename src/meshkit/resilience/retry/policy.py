"""Retry: call again after a failure, within attempts, total time, backoff and a shared budget.

The wrapper runs attempts and sleeps between them on the injected clock; every decision to try
again is :meth:`Retry.plan` (see ``retry.core`` for its theory of operation), which the
gateway's callback path calls too, so both faces retry by one set of rules and report the same
events.

Giving up on an exception re-raises the last one unchanged (type and traceback); giving up on
a failed *result* returns that result, so the caller sees what the callee said. A refusal by
the budget raises ``RetryBudgetExhausted`` with the failure as ``__cause__`` and ``last_error``
(from ``execute``; ``plan`` only answers ``None``).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import RetryBudgetExhausted
from meshkit.events import EventBus
from meshkit.resilience._policy import PolicyKind
from meshkit.resilience.retry.budget import RetryBudget
from meshkit.resilience.retry.core import BUDGET_EXHAUSTED, decide, describe
from meshkit.resilience.retry.events import RetryGaveUp, RetryScheduled
from meshkit.resilience.retry.options import RetryOptions
from meshkit.resilience.timeout import Timeout, TimeoutOptions

__all__ = ["Retry"]

T = TypeVar("T")


class Retry:
    """Retry failed calls; see ``retry.core`` for the order of the checks."""

    __slots__ = (
        "_attempt_timeout",
        "_budget",
        "_clock",
        "_events",
        "_name",
        "_retry_on",
        "_rng",
        "_timed",
        "options",
    )

    def __init__(
        self,
        options: RetryOptions | None = None,
        *,
        name: str = "retry",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options = options if options is not None else RetryOptions()
        self._name = name
        self._clock = clock
        self._events = events
        self._rng = rng
        self._budget = options.budget
        self._retry_on = options.retry_on
        self._timed = options.max_total_time is not None
        per_try = options.per_try_timeout
        self._attempt_timeout = (
            None
            if per_try is None
            else Timeout(
                TimeoutOptions(seconds=per_try, per_attempt=True),
                name=f"{name}:attempt",
                clock=clock,
                events=events,
            )
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.RETRY

    @property
    def budget(self) -> RetryBudget | None:
        return self._budget

    @property
    def per_try_timeout(self) -> float | None:
        """Seconds one attempt may take (``None``: unbounded); ``execute`` enforces it, a
        caller driving ``plan`` itself arms its own timer with it."""
        return self.options.per_try_timeout

    # -- the decision, for callers that run attempts themselves ---------------------------------
    def record_request(self) -> None:
        """Count a logical request's first attempt in the budget (nothing without one).

        ``execute`` does this itself; a caller driving :meth:`plan` calls it once per request
        it may retry, or the budget (ratio x requests) would allow only its floor."""
        budget = self._budget
        if budget is not None:
            budget.record_request()

    def plan(
        self,
        attempt: int,
        outcome: object,
        now: float,
        *,
        started: float | None = None,
        previous: float | None = None,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up.

        ``attempt``: the number of the attempt that just failed (1 = the first call);
        ``outcome``: its failure — an exception, a :class:`RetryOutcome`, or any object with a
        ``retry_after`` attribute (seconds, or ``None``); ``now``: the clock's ``monotonic()``;
        ``started``: when the first attempt started (``None``: now, so only the coming delay
        counts against ``max_total_time``); ``previous``: the delay this method returned
        last time for the same call (decorrelated jitter grows from it).

        Never raises for a refusal: a budget that says no answers ``None`` like every other
        limit. Emits ``RetryScheduled`` or ``RetryGaveUp``, as ``execute`` does. Whether the
        outcome is worth retrying at all (``retry_on``) is the caller's question.
        """
        decision = self._decide(
            attempt, outcome, now, now if started is None else started, previous
        )
        return None if isinstance(decision, str) else decision

    # -- the wrappers ---------------------------------------------------------------------------
    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        clock = self._clock
        started = clock.monotonic() if self._timed else 0.0
        self.record_request()
        limit = self._attempt_timeout
        retry_on = self._retry_on
        attempt = 1
        previous: float | None = None
        while True:
            error: Exception | None = None
            try:
                if limit is None:
                    result = await fn(*args, **kwargs)
                else:
                    result = await limit.execute(fn, *args, **kwargs)
            except Exception as exc:
                if not retry_on.is_failure(exc):
                    raise
                error = exc
                outcome: object = exc
            else:
                if not retry_on.is_failure_result(result):
                    return result
                outcome = result
            now = clock.monotonic() if self._timed else 0.0
            decision = self._decide(attempt, outcome, now, started, previous)
            if isinstance(decision, str):
                return self._give_up(decision, error, outcome)  # type: ignore[no-any-return]
            await clock.sleep(decision)
            previous = decision
            attempt += 1

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        clock = self._clock
        started = clock.monotonic() if self._timed else 0.0
        self.record_request()
        limit = self._attempt_timeout
        retry_on = self._retry_on
        attempt = 1
        previous: float | None = None
        while True:
            error: Exception | None = None
            try:
                result = (
                    fn(*args, **kwargs)
                    if limit is None
                    else limit.execute_sync(fn, *args, **kwargs)
                )
            except Exception as exc:
                if not retry_on.is_failure(exc):
                    raise
                error = exc
                outcome: object = exc
            else:
                if not retry_on.is_failure_result(result):
                    return result
                outcome = result
            now = clock.monotonic() if self._timed else 0.0
            decision = self._decide(attempt, outcome, now, started, previous)
            if isinstance(decision, str):
                return self._give_up(decision, error, outcome)  # type: ignore[no-any-return]
            clock.sleep_sync(decision)
            previous = decision
            attempt += 1

    # -- internals ------------------------------------------------------------------------------
    def _decide(
        self, attempt: int, outcome: object, now: float, started: float, previous: float | None
    ) -> float | str:
        """``core.decide`` plus the event it calls for."""
        decision = decide(
            self.options,
            attempt,
            outcome,
            now=now,
            started=started,
            previous=previous,
            rng=self._rng,
        )
        events = self._events
        if events is not None and events.active:
            if isinstance(decision, str):
                event: RetryGaveUp | RetryScheduled = RetryGaveUp(
                    source=self._name,
                    at=self._clock.time(),
                    attempts=attempt,
                    reason=decision,
                    failure=describe(outcome),
                )
            else:
                event = RetryScheduled(
                    source=self._name,
                    at=self._clock.time(),
                    attempt=attempt,
                    delay=decision,
                    failure=describe(outcome),
                )
            events.publish(event)
        return decision

    def _give_up(self, reason: str, error: Exception | None, result: Any) -> Any:
        """The last failure, as the caller should see it: raised, returned, or — when the
        budget refused after an exception — wrapped in ``RetryBudgetExhausted``."""
        if error is None:
            return result
        budget = self._budget
        if reason == BUDGET_EXHAUSTED and budget is not None:
            raise RetryBudgetExhausted(
                f"{self._name}: retry budget exhausted after {type(error).__name__}: {error}",
                retry_after=budget.retry_after(),
                policy=self._name,
                last_error=error,
            ) from error
        raise error

    def __repr__(self) -> str:
        return f"Retry(name={self._name!r}, max_attempts={self.options.max_attempts})"
