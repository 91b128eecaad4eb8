"""Fallback: when a call fails, answer with something else instead of the failure.

Three sources, tried in this order: the *last good* result (``last_good=True``; optionally
only if younger than ``max_age`` seconds), a *factory* called with the failure (sync or
async), then a fixed *value*. If none applies the failure propagates unchanged. By default a
fallback handles every ``Exception``, meshkit's own rejections included (an open breaker or a
full bulkhead is exactly when a fallback earns its keep); cancellation always propagates.

The last good result is remembered per *key*, so ``get_order("42")`` is never answered with
order 41: by default the key is the function with its arguments, or whatever ``key(*args,
**kwargs)`` returns (give one when the function is made afresh per call, a lambda say, or an
argument is not hashable). A call whose key cannot be hashed is neither remembered nor
answered from memory. The most recently used ``max_keys`` results are kept, so memory stays
bounded however many distinct arguments pass through.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import ConfigError
from meshkit.events import EventBus
from meshkit.resilience._policy import PolicyKind
from meshkit.resilience.fallback.core import LastGood
from meshkit.resilience.fallback.events import FallbackUsed
from meshkit.resilience.fallback.options import MISSING, FallbackOptions

__all__ = ["Fallback"]

T = TypeVar("T")


class Fallback(Generic[T]):
    """Answer failures with a fallback; see the module docstring."""

    __slots__ = ("_clock", "_events", "_good", "_handle", "_name", "options")

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
        self._good = LastGood(options.max_keys) if options.last_good else None

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.FALLBACK

    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        key = MISSING if self._good is None else self._key(fn, args, kwargs)
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            answer = self._for_error(exc, key)
            if answer is MISSING:
                raise
        else:
            answer = self._for_result(result, key)
            if answer is MISSING:
                return result
        if inspect.isawaitable(answer):
            answer = await answer
        return answer  # type: ignore[no-any-return]

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        key = MISSING if self._good is None else self._key(fn, args, kwargs)
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            answer = self._for_error(exc, key)
            if answer is MISSING:
                raise
        else:
            answer = self._for_result(result, key)
            if answer is MISSING:
                return result
        if inspect.isawaitable(answer):
            if inspect.iscoroutine(answer):
                answer.close()  # never awaited: close it rather than leak a warning
            raise ConfigError(
                f"{self._name}: the factory is async; use execute() for it", option="factory"
            )
        return answer  # type: ignore[no-any-return]

    def _key(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The name of what this call asks for, or ``MISSING`` when it cannot be hashed.

        Worked out before the call, so an error in a ``key`` function is not mistaken for
        the call's failure. The default holds the function too: one fallback may guard
        ``get_order`` and ``get_user``, and ``get_user("42")`` is not ``get_order("42")``.
        """
        make = self.options.key
        if make is not None:
            key: Any = make(*args, **kwargs)
        elif kwargs:
            key = (fn, args, tuple(sorted(kwargs.items())))
        else:
            key = (fn, args)
        try:
            hash(key)
        except TypeError:  # e.g. a dict argument: remembering it would need a key of our own
            return MISSING
        return key

    def _for_error(self, error: Exception, key: Any) -> Any:
        """The answer to a raised ``error``, or ``MISSING`` to let it propagate."""
        if not self._handle.is_failure(error):
            return MISSING
        return self._answer(error, None, key)

    def _for_result(self, result: Any, key: Any) -> Any:
        """The answer to a returned ``result``, or ``MISSING`` to return it as it is."""
        if not self._handle.is_failure_result(result):
            good = self._good
            if good is not None and key is not MISSING:
                stamp = 0.0 if self.options.max_age is None else self._clock.monotonic()
                good.put(key, result, stamp)
            return MISSING
        return self._answer(None, result, key)

    def _answer(self, error: BaseException | None, result: Any, key: Any) -> Any:
        """The fallback answer for this failure, or ``MISSING`` if none applies."""
        options = self.options
        failure = f"{type(error).__name__}: {error}" if error is not None else f"result {result!r}"
        good = self._good
        if good is not None and key is not MISSING:
            oldest = (
                -math.inf if options.max_age is None else self._clock.monotonic() - options.max_age
            )
            answer = good.get(key, oldest)
            if answer is not MISSING:
                self._emit("last_good", failure)
                return answer
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
