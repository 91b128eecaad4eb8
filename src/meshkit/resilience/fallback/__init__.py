"""Fallback: see ``policy``."""

from __future__ import annotations

from meshkit.resilience.fallback.policy import (
    Fallback,
    FallbackOptions,
    FallbackUsed,
)

__all__ = [
    "Fallback",
    "FallbackOptions",
    "FallbackUsed",
]
