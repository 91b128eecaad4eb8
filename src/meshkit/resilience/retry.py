"""Retry: call again after a failure, within attempts, total time, backoff and a shared budget.

Theory of operation
-------------------
The first attempt is the hot path: it counts one request in the budget (if any) and awaits the
call; nothing else happens unless it fails. After a failure, one decision — ``_plan`` — says
whether and when to try again, in this order:

1. the outcome must be retryable (``retry_on``: exception types, an exception predicate, or a
   result predicate such as "status is 503"); a caller's other exceptions pass through as-is;
2. attempts left (``max_attempts`` counts the first call);
3. the delay: the backoff's, or longer if the failure carries a ``retry_after`` hint (a 429's
   ``Retry-After``, an open breaker's wait) and ``honor_retry_after`` is on — hints above
   ``max_retry_after`` are not worth waiting for and end the retries;
4. time left: a retry that would start after ``max_total_time`` is not scheduled;
5. the budget (shared by every caller of this policy): no retry without its permission, so an
   outage cannot multiply the load on the failing dependency (see ``retry_budget``).

Giving up on an exception re-raises the last one unchanged (type and traceback); giving up on
a failed *result* returns that result, so the caller sees what the callee said. A refusal by
the budget raises ``RetryBudgetExhausted`` with the failure as ``__cause__`` and ``last_error``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from meshkit import _validate
from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import ConfigError, RetryBudgetExhausted
from meshkit.events import Event, EventBus
from meshkit.resilience._outcome import OutcomeFilter, retry_after_hint
from meshkit.resilience._policy import PolicyKind
from meshkit.resilience.backoff import DEFAULT_BACKOFF, Backoff
from meshkit.resilience.retry_budget import RetryBudget

__all__ = ["Retry", "RetryGaveUp", "RetryOptions", "RetryScheduled"]

T = TypeVar("T")

_MAX_ATTEMPTS = 1_000
_ANY_EXCEPTION = OutcomeFilter()


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryOptions:
    """``max_attempts``: calls in all, the first included (``None``: only time bounds them);
    ``max_total_time``: seconds after the first call starts beyond which no retry starts;
    ``backoff``: delays between attempts; ``retry_on``: which outcomes are retried;
    ``honor_retry_after`` / ``max_retry_after``: wait as long as a failure asks, up to a cap;
    ``budget``: a :class:`RetryBudget`, usually shared by every caller of one dependency."""

    max_attempts: int | None = 3
    max_total_time: float | None = None
    backoff: Backoff = DEFAULT_BACKOFF
    retry_on: OutcomeFilter = _ANY_EXCEPTION
    honor_retry_after: bool = True
    max_retry_after: float = 60.0
    budget: RetryBudget | None = None

    def __post_init__(self) -> None:
        if self.max_attempts is None and self.max_total_time is None:
            raise ConfigError(
                "retries must be bounded: set max_attempts, max_total_time or both",
                option="max_attempts",
            )
        if self.max_attempts is not None:
            if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
                raise ConfigError(
                    f"max_attempts must be an integer, got {self.max_attempts!r}",
                    option="max_attempts",
                )
            _validate.between("max_attempts", self.max_attempts, 1, _MAX_ATTEMPTS)
        if self.max_total_time is not None:
            _validate.positive("max_total_time", self.max_total_time)
        for option, value, kind in (
            ("backoff", self.backoff, Backoff),
            ("retry_on", self.retry_on, OutcomeFilter),
        ):
            if not isinstance(value, kind):
                raise ConfigError(
                    f"{option} must be a {kind.__name__}, got {value!r}", option=option
                )
        _validate.at_least("max_retry_after", self.max_retry_after, 0)
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise ConfigError(f"budget must be a RetryBudget, got {self.budget!r}", option="budget")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryScheduled(Event):
    """Attempt ``attempt`` failed with ``failure`` (a short description); the next one starts
    after ``delay`` seconds."""

    attempt: int
    delay: float
    failure: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryGaveUp(Event):
    """No more retries after ``attempts`` attempts; ``reason`` says which limit ended them."""

    attempts: int
    reason: str
    failure: str


class _Failure:
    """The outcome of a failed attempt: an exception, or a result the options call a failure."""

    __slots__ = ("error", "result")

    def __init__(self, error: Exception | None, result: Any = None) -> None:
        self.error = error
        self.result = result

    def describe(self) -> str:
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        return f"result {self.result!r}"

    def give_up(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class Retry:
    """Retry failed calls; see the module docstring for the order of the checks."""

    __slots__ = (
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

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.RETRY

    @property
    def budget(self) -> RetryBudget | None:
        return self._budget

    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        start = self._clock.monotonic() if self._timed else 0.0
        if self._budget is not None:
            self._budget.record_request()
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            if not self._retry_on.is_failure(exc):
                raise
            failure = _Failure(exc)
        else:
            if self._retry_on.result_predicate is None or not self._retry_on.is_failure_result(
                result
            ):
                return result
            failure = _Failure(None, result)
        attempt = 1
        previous: float | None = None
        while True:
            delay = self._plan(attempt, failure, previous, start)
            if delay is None:
                return failure.give_up()  # type: ignore[no-any-return]
            await self._clock.sleep(delay)
            previous = delay
            attempt += 1
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                if not self._retry_on.is_failure(exc):
                    raise
                failure = _Failure(exc)
                continue
            if self._retry_on.is_failure_result(result):
                failure = _Failure(None, result)
                continue
            return result

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        start = self._clock.monotonic() if self._timed else 0.0
        if self._budget is not None:
            self._budget.record_request()
        attempt = 0
        previous: float | None = None
        while True:
            attempt += 1
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                if not self._retry_on.is_failure(exc):
                    raise
                failure = _Failure(exc)
            else:
                if not self._retry_on.is_failure_result(result):
                    return result
                failure = _Failure(None, result)
            delay = self._plan(attempt, failure, previous, start)
            if delay is None:
                return failure.give_up()  # type: ignore[no-any-return]
            self._clock.sleep_sync(delay)
            previous = delay

    # -- the decision ------------------------------------------------------------------------
    def _plan(
        self, attempt: int, failure: _Failure, previous: float | None, start: float
    ) -> float | None:
        """The delay before the next attempt, or ``None`` to give up (the caller re-raises
        the failure or returns the failed result); a budget refusal raises here."""
        options = self.options
        if options.max_attempts is not None and attempt >= options.max_attempts:
            self._emit_gave_up(attempt, f"all {attempt} attempts failed", failure)
            return None
        delay = options.backoff.delay(attempt, previous, self._rng)
        if options.honor_retry_after:
            hint = retry_after_hint(failure.error if failure.error is not None else failure.result)
            if hint is not None:
                if hint > options.max_retry_after:
                    self._emit_gave_up(
                        attempt,
                        f"asked to wait {hint:g}s, above max_retry_after "
                        f"{options.max_retry_after:g}s",
                        failure,
                    )
                    return None
                delay = max(delay, hint)
        if options.max_total_time is not None:
            elapsed = self._clock.monotonic() - start
            if elapsed + delay > options.max_total_time:
                self._emit_gave_up(
                    attempt, f"max_total_time {options.max_total_time:g}s would pass", failure
                )
                return None
        budget = self._budget
        if budget is not None and not budget.try_spend():
            self._emit_gave_up(attempt, "retry budget exhausted", failure)
            error = failure.error
            if error is None:
                return None
            raise RetryBudgetExhausted(
                f"{self._name}: retry budget exhausted after {type(error).__name__}: {error}",
                retry_after=budget.retry_after(),
                policy=self._name,
                last_error=error,
            ) from error
        events = self._events
        if events is not None and events.active:
            events.publish(
                RetryScheduled(
                    source=self._name,
                    at=self._clock.time(),
                    attempt=attempt,
                    delay=delay,
                    failure=failure.describe(),
                )
            )
        return delay

    def _emit_gave_up(self, attempt: int, reason: str, failure: _Failure) -> None:
        events = self._events
        if events is not None and events.active:
            events.publish(
                RetryGaveUp(
                    source=self._name,
                    at=self._clock.time(),
                    attempts=attempt,
                    reason=reason,
                    failure=failure.describe(),
                )
            )

    def __repr__(self) -> str:
        return f"Retry(name={self._name!r}, max_attempts={self.options.max_attempts})"
