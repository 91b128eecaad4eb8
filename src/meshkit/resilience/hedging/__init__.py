"""Hedging: see ``policy``."""

from __future__ import annotations

from meshkit.resilience.hedging.policy import (
    HedgeStarted,
    Hedging,
    HedgingOptions,
)

__all__ = [
    "Hedging",
    "HedgingOptions",
    "HedgeStarted",
]
