"""Checks for option values, shared by every options class.

Each check raises :class:`~meshkit.errors.ConfigError` naming the option, the value given and
the range allowed, so a bad value is caught at construction with a message a user can act on.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from meshkit.errors import ConfigError

__all__ = [
    "at_least",
    "callable_or_none",
    "between",
    "finite",
    "finite_positive",
    "greater_than",
    "instance_of",
    "integer",
    "one_of",
    "positive",
    "not_above",
]


def _finite(option: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"{option} must be a number, got {value!r}", option=option)


def integer(option: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """``value``, if it is an ``int`` (``True`` is not: a flag passed for a count is a
    mistake) within ``low`` .. ``high`` when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{option} must be an integer, got {value!r}", option=option)
    if low is not None and high is not None:
        between(option, value, low, high)
    elif low is not None:
        at_least(option, value, low)
    elif high is not None and value > high:
        raise ConfigError(f"{option} must be <= {high}, got {value!r}", option=option)
    return value


def finite(option: str, value: float) -> None:
    """``value`` is a number other than infinity (for sizes that allocate or divide by it)."""
    _finite(option, value)
    if math.isinf(value):
        raise ConfigError(f"{option} must be finite, got {value!r}", option=option)


def finite_positive(option: str, value: float) -> None:
    """``0 < value < inf``: a rate or a window of infinity would divide into zero or nan."""
    positive(option, value)
    finite(option, value)


def positive(option: str, value: float) -> None:
    """``value`` > 0 (infinity allowed: it means "no limit")."""
    _finite(option, value)
    if value <= 0:
        raise ConfigError(f"{option} must be > 0, got {value!r}", option=option)


def greater_than(option: str, value: float, bound: float) -> None:
    _finite(option, value)
    if value <= bound:
        raise ConfigError(f"{option} must be > {bound}, got {value!r}", option=option)


def at_least(option: str, value: float, bound: float) -> None:
    _finite(option, value)
    if value < bound:
        raise ConfigError(f"{option} must be >= {bound}, got {value!r}", option=option)


def between(option: str, value: float, low: float, high: float) -> None:
    """``low`` <= ``value`` <= ``high``."""
    _finite(option, value)
    if not low <= value <= high:
        raise ConfigError(
            f"{option} must be between {low} and {high}, got {value!r}", option=option
        )


def not_above(option: str, value: float, other_option: str, other: float) -> None:
    """``value`` <= ``other`` (e.g. a minimum never above its maximum)."""
    if value > other:
        raise ConfigError(
            f"{option} ({value!r}) must not exceed {other_option} ({other!r})", option=option
        )


def one_of(option: str, value: object, allowed: Collection[object]) -> None:
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"{option} must be one of {choices}; got {value!r}", option=option)


def instance_of(option: str, value: object, kind: type) -> None:
    """``value`` is a ``kind`` (the options that take a policy's helper object, not a number)."""
    if not isinstance(value, kind):
        name = kind.__name__
        article = "an" if name[:1].lower() in "aeiou" else "a"
        raise ConfigError(f"{option} must be {article} {name}, got {value!r}", option=option)


def callable_or_none(option: str, value: object) -> None:
    if value is not None and not callable(value):
        raise ConfigError(f"{option} must be callable, got {value!r}", option=option)
