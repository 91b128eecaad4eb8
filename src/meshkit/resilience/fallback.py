"""Fallback: when a call fails, answer with something else instead of the failure.

Three sources, tried in this order: the *last good* result (``last_good=True``; optionally
only if younger than ``max_age`` seconds), a *factory* called with the failure (sync or
async), then a fixed *value*. If none applies the failure propagates unchanged. By default a
fallback handles every ``Exception``, meshkit's own rejections included (an open breaker or a
full bulkhead is exactly when a fallback earns its keep); cancellation always propagates.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from meshkit import _validate
from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import ConfigError
from meshkit.events import Event, EventBus
from meshkit.resilience._outcome import OutcomeFilter
from meshkit.resilience._policy import PolicyKind

__all__ = ["Fallback", "FallbackOptions", "FallbackUsed"]

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()
_EVERY_FAILURE = OutcomeFilter(ignore=())


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackOptions(Generic[T]):
    """``value``: a fixed answer; ``factory``: ``f(error)`` → answer (``error`` is ``None``
    when a *result* failed ``handle.result_predicate``), may be async; ``last_good``: answer
    with the most recent success, if younger than ``max_age`` seconds (``None``: any age);
    ``handle``: which failures fall back."""

    value: T = MISSING
    factory: Callable[[BaseException | None], T | Awaitable[T]] | None = None
    last_good: bool = False
    max_age: float | None = None
    handle: OutcomeFilter = _EVERY_FAILURE

    def __post_init__(self) -> None:
        if self.value is MISSING and self.factory is None and not self.last_good:
            raise ConfigError(
                "a fallback needs a value, a factory or last_good=True", option="value"
            )
        if self.factory is not None and not callable(self.factory):
            raise ConfigError(f"factory must be callable, got {self.factory!r}", option="factory")
        if self.max_age is not None:
            _validate.positive("max_age", self.max_age)
        if not isinstance(self.handle, OutcomeFilter):
            raise ConfigError(
                f"handle must be an OutcomeFilter, got {self.handle!r}", option="handle"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackUsed(Event):
    """A failure (described in ``failure``) was answered from ``source_kind``:
    ``"last_good"``, ``"factory"`` or ``"value"``."""

    source_kind: str
    failure: str


class Fallback(Generic[T]):
    """Answer failures with a fallback; see the module docstring."""

    __slots__ = ("_clock", "_events", "_good", "_good_at", "_handle", "_name", "options")

    def __init__(
        self,
        options: FallbackOptions[T],
        *,
        name: str = "fallback",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.options = options
        self._name = name
        self._clock = clock
        self._events = events
        self._handle = options.handle
        self._good: Any = MISSING
        self._good_at = 0.0

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.FALLBACK

    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            answer = self._for_error(exc)
            if answer is MISSING:
                raise
        else:
            answer = self._for_result(result)
            if answer is MISSING:
                return result
        if inspect.isawaitable(answer):
            answer = await answer
        return answer  # type: ignore[no-any-return]

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            answer = self._for_error(exc)
            if answer is MISSING:
                raise
        else:
            answer = self._for_result(result)
            if answer is MISSING:
                return result
        if inspect.isawaitable(answer):
            if inspect.iscoroutine(answer):
                answer.close()  # never awaited: close it rather than leak a warning
            raise ConfigError(
                f"{self._name}: the factory is async; use execute() for it", option="factory"
            )
        return answer  # type: ignore[no-any-return]

    def _for_error(self, error: Exception) -> Any:
        """The answer to a raised ``error``, or ``MISSING`` to let it propagate."""
        if not self._handle.is_failure(error):
            return MISSING
        return self._answer(error, None)

    def _for_result(self, result: Any) -> Any:
        """The answer to a returned ``result``, or ``MISSING`` to return it as it is."""
        if not self._handle.is_failure_result(result):
            if self.options.last_good:
                self._remember(result)
            return MISSING
        return self._answer(None, result)

    def _remember(self, result: Any) -> None:
        self._good = result
        if self.options.max_age is not None:
            self._good_at = self._clock.monotonic()

    def _answer(self, error: BaseException | None, result: Any) -> Any:
        """The fallback answer for this failure, or ``MISSING`` if none applies."""
        options = self.options
        failure = f"{type(error).__name__}: {error}" if error is not None else f"result {result!r}"
        if options.last_good and self._good is not MISSING:
            fresh = options.max_age is None or (
                self._clock.monotonic() - self._good_at <= options.max_age
            )
            if fresh:
                self._emit("last_good", failure)
                return self._good
        if options.factory is not None:
            self._emit("factory", failure)
            return options.factory(error)
        if options.value is not MISSING:
            self._emit("value", failure)
            return options.value
        return MISSING

    def _emit(self, kind: str, failure: str) -> None:
        events = self._events
        if events is not None and events.active:
            events.publish(
                FallbackUsed(
                    source=self._name, at=self._clock.time(), source_kind=kind, failure=failure
                )
            )

    def __repr__(self) -> str:
        return f"Fallback(name={self._name!r})"
