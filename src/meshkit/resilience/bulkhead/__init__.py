"""Bulkheads, in the file set every policy package has.

``options`` (``BulkheadOptions`` and its named defaults), ``events`` (``BulkheadRejected``,
``BulkheadStats``), ``core`` (slots and queue behind ``try_enter`` / ``leave`` / ``queue``:
synchronous, compiled, what the gateway calls per request), ``policy`` (``Bulkhead``, the
``execute`` / ``execute_sync`` wrapper) and ``pools`` (named bulkheads splitting a capacity).
"""

from __future__ import annotations

from meshkit.resilience.bulkhead.core import BulkheadCore, Waiter
from meshkit.resilience.bulkhead.events import BulkheadRejected, BulkheadStats
from meshkit.resilience.bulkhead.options import (
    DEFAULT_MAX_QUEUE_WAIT,
    DEFAULT_MAX_QUEUED,
    BulkheadOptions,
)
from meshkit.resilience.bulkhead.policy import Bulkhead
from meshkit.resilience.bulkhead.pools import BulkheadPools

__all__ = [
    "DEFAULT_MAX_QUEUED",
    "DEFAULT_MAX_QUEUE_WAIT",
    "Bulkhead",
    "BulkheadCore",
    "BulkheadOptions",
    "BulkheadPools",
    "BulkheadRejected",
    "BulkheadStats",
    "Waiter",
]
