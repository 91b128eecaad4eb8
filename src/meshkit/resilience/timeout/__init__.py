"""Timeout: see ``policy``."""

from __future__ import annotations

from meshkit.resilience.timeout.policy import (
    Timeout,
    TimeoutOccurred,
    TimeoutOptions,
)

__all__ = [
    "Timeout",
    "TimeoutOccurred",
    "TimeoutOptions",
]
