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
    "between",
    "finite",
    "greater_than",
    "integer",
    "not_above",
    "one_of",
    "positive",
]


def _finite(option: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"{option} must be a number, got {value!r}", option=option)


def integer(option: str, value: object) -> int:
    """``value``, if it is an ``int`` (``True`` is not: a flag passed for a count is a
    mistake)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{option} must be an integer, got {value!r}", option=option)
    return value


def finite(option: str, value: float) -> None:
    """``value`` is a number other than infinity (a window or a period has to end)."""
    _finite(option, value)
    if math.isinf(value):
        raise ConfigError(f"{option} must be finite, got {value!r}", option=option)


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
