"""Durations and sizes as people write them in config files: ``250ms``, ``2s``, ``1m``, ``10MiB``.

A plain number keeps meaning seconds (durations) or bytes (sizes), so every file written before
units were accepted still loads. Units are case-sensitive where case changes the meaning (``m``
is minutes, ``ms`` milliseconds; ``MB`` is 10^6 bytes, ``MiB`` 2^20).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints

__all__ = ["Bytes", "Seconds", "parse_duration", "parse_size"]

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE_UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
}
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")

DURATION_HELP = "a number of seconds, or a number with a unit: 250ms, 2s, 1.5m, 1h"
SIZE_HELP = "a number of bytes, or a number with a unit: 512B, 64KiB, 10MiB, 1GiB, 10MB"


def parse_duration(value: Any) -> Any:
    """Seconds from ``2``, ``0.5``, ``"250ms"``, ``"2s"``, ``"1m"``; other types pass through
    for the field's own check to refuse."""
    if isinstance(value, str):
        match = _QUANTITY.match(value)
        if match is None or match[2] not in {"", *_DURATION_UNITS}:
            raise ValueError(f"must be {DURATION_HELP}; got {value!r}")
        return float(match[1]) * _DURATION_UNITS.get(match[2], 1.0)
    if isinstance(value, bool):
        raise ValueError(f"must be {DURATION_HELP}; got {value!r}")
    return value


def parse_size(value: Any) -> Any:
    """Bytes from ``1024``, ``"64KiB"``, ``"10MiB"``; a fraction of a byte is refused."""
    if isinstance(value, str):
        match = _QUANTITY.match(value)
        if match is None or match[2] not in {"", *_SIZE_UNITS}:
            raise ValueError(f"must be {SIZE_HELP}; got {value!r}")
        total = float(match[1]) * _SIZE_UNITS.get(match[2], 1)
        if not math.isclose(total, round(total)):
            raise ValueError(f"must be a whole number of bytes; got {value!r}")
        return round(total)
    if isinstance(value, bool):
        raise ValueError(f"must be {SIZE_HELP}; got {value!r}")
    return value


# The JSON Schema says "number, or string of this form", so that editors accept "2s" and flag
# "2 weeks" as the loader would.
_DURATION_TEXT = Annotated[str, StringConstraints(pattern=r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$")]
_SIZE_TEXT = Annotated[
    str, StringConstraints(pattern=r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$")
]

Seconds = Annotated[
    float, BeforeValidator(parse_duration, json_schema_input_type=float | _DURATION_TEXT)
]
"""A duration in seconds; YAML may say ``2``, ``0.25``, ``"250ms"``, ``"2s"``, ``"1m"``."""

Bytes = Annotated[int, BeforeValidator(parse_size, json_schema_input_type=int | _SIZE_TEXT)]
"""A size in bytes; YAML may say ``1048576``, ``"1MiB"``, ``"64KiB"``."""
