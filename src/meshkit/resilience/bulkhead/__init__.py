"""Bulkhead: see ``policy``."""

from __future__ import annotations

from meshkit.resilience.bulkhead.policy import (
    Bulkhead,
    BulkheadOptions,
    BulkheadPools,
    BulkheadRejected,
    BulkheadStats,
)

__all__ = [
    "Bulkhead",
    "BulkheadOptions",
    "BulkheadPools",
    "BulkheadRejected",
    "BulkheadStats",
]
