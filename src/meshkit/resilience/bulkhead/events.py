"""What a bulkhead reports: refusals (as events) and its occupancy (as a snapshot)."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.events import Event

__all__ = ["BulkheadRejected", "BulkheadStats"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkheadRejected(Event):
    """A call was refused: ``reason`` is ``"queue full"`` or ``"queue wait exceeded"``."""

    reason: str
    active: int
    queued: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkheadStats:
    active: int
    queued: int
    max_concurrent: int
    max_queued: int
    rejected: int
