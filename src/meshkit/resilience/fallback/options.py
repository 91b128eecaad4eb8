"""Fallback options, checked once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from meshkit import _validate
from meshkit.errors import ConfigError
from meshkit.resilience._outcome import OutcomeFilter

__all__ = ["DEFAULT_MAX_KEYS", "MISSING", "FallbackOptions"]

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()
_EVERY_FAILURE = OutcomeFilter(ignore=())
# One result per distinct call: enough for the hot keys of a service's lookups (orders, users,
# prices), while a caller spraying distinct arguments costs at most this many kept results.
DEFAULT_MAX_KEYS = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackOptions(Generic[T]):
    """``value``: a fixed answer; ``factory``: ``f(error)`` → answer (``error`` is ``None``
    when a *result* failed ``handle.result_predicate``), may be async; ``last_good``: answer
    with the most recent success of the same call, if younger than ``max_age`` seconds
    (``None``: any age); ``key``: ``key(*args, **kwargs)`` → the hashable name of what a call
    asks for (``None``: the function and its arguments); ``max_keys``: how many calls'
    results ``last_good`` keeps, least recently used dropped first; ``handle``: which
    failures fall back."""

    value: T = MISSING
    factory: Callable[[BaseException | None], T | Awaitable[T]] | None = None
    last_good: bool = False
    max_age: float | None = None
    key: Callable[..., Hashable] | None = None
    max_keys: int = DEFAULT_MAX_KEYS
    handle: OutcomeFilter = _EVERY_FAILURE

    def __post_init__(self) -> None:
        if self.value is MISSING and self.factory is None and not self.last_good:
            raise ConfigError(
                "a fallback needs a value, a factory or last_good=True", option="value"
            )
        _validate.callable_or_none("factory", self.factory)
        if self.max_age is not None:
            _validate.positive("max_age", self.max_age)
        _validate.callable_or_none("key", self.key)
        _validate.integer("max_keys", self.max_keys, 1)
        _validate.instance_of("handle", self.handle, OutcomeFilter)
