"""Which outcomes count as failures — shared by retry, breaker, hedging and fallback.

Cancellation (``BaseException`` that is not an ``Exception``) is never a failure to handle:
it always propagates. Meshkit's refusals to *start* a call (an open breaker, a rate limit, a
full bulkhead, an exhausted retry budget) are not failures of the callee either unless a
policy opts in, so an open breaker downstream does not trip one upstream. A timeout is
different: the callee ran and was too slow, so ``TimeoutExceeded`` is a failure like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from meshkit.errors import (
    BulkheadFull,
    CircuitOpen,
    ConfigError,
    RateLimited,
    RetryBudgetExhausted,
)

__all__ = ["OutcomeFilter", "retry_after_hint"]


REFUSALS: tuple[type[BaseException], ...] = (
    CircuitOpen,
    RateLimited,
    BulkheadFull,
    RetryBudgetExhausted,
)
"""Meshkit's errors that mean "the call was never started"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeFilter:
    """Decides whether an exception or a result is a failure.

    ``exceptions``: exception types that are failures (default: any ``Exception``);
    ``ignore``: types that are never failures even if listed above (default: the refusals
    ``CircuitOpen``, ``RateLimited``, ``BulkheadFull``, ``RetryBudgetExhausted``);
    ``exception_predicate``: an extra test on a matching exception;
    ``result_predicate``: a test that marks a *returned value* as a failure (e.g. HTTP 503).
    """

    exceptions: tuple[type[BaseException], ...] = (Exception,)
    ignore: tuple[type[BaseException], ...] = REFUSALS
    exception_predicate: Callable[[BaseException], bool] | None = None
    result_predicate: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        for field_name in ("exceptions", "ignore"):
            types = getattr(self, field_name)
            if not isinstance(types, tuple) or not all(
                isinstance(t, type) and issubclass(t, BaseException) for t in types
            ):
                raise ConfigError(
                    f"{field_name} must be a tuple of exception types, got {types!r}",
                    option=field_name,
                )

    def is_failure(self, exc: BaseException) -> bool:
        if not isinstance(exc, Exception) or not isinstance(exc, self.exceptions):
            return False
        if self.ignore and isinstance(exc, self.ignore):
            return False
        return self.exception_predicate is None or self.exception_predicate(exc)

    def is_failure_result(self, result: object) -> bool:
        return self.result_predicate is not None and bool(self.result_predicate(result))


def retry_after_hint(outcome: object) -> float | None:
    """The ``retry_after`` (seconds) a failure or result carries, if any.

    Meshkit's own errors carry one; so may a user's exception or result object, by having a
    numeric ``retry_after`` attribute — a :class:`~meshkit.resilience.RetryOutcome` is the
    ready-made one (the gateway fills it from an upstream's ``Retry-After``). ``None``, a
    negative number or a non-number means no hint.
    """
    value = getattr(outcome, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None
