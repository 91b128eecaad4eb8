"""Option checks shared by the rate-limit algorithms and options (ConfigError naming the option)."""

from __future__ import annotations

import math

from meshkit import _validate
from meshkit.errors import ConfigError

__all__ = ["finite_positive", "whole_at_least"]


def finite_positive(option: str, value: float) -> None:
    """``0 < value < inf``: a rate or a window of infinity would divide into zero or nan."""
    _validate.positive(option, value)
    if math.isinf(value):
        raise ConfigError(f"{option} must be finite, got {value!r}", option=option)


def whole_at_least(option: str, value: int, bound: int) -> None:
    """An ``int`` (not a bool, not a float) ``>= bound``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{option} must be an integer, got {value!r}", option=option)
    _validate.at_least(option, value, bound)
