"""Bulkhead options: the three numbers both faces use (a gateway route's ``max_concurrent``,
``max_queued`` and ``max_queue_wait`` keys are these), checked once."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit import _validate

__all__ = ["DEFAULT_MAX_QUEUED", "DEFAULT_MAX_QUEUE_WAIT", "BulkheadOptions"]

DEFAULT_MAX_QUEUED = 0  # refuse at once when full: queueing is a choice, as in Envoy
DEFAULT_MAX_QUEUE_WAIT: float | None = None  # a queued call waits as long as it takes


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkheadOptions:
    """``max_concurrent`` calls run at once; up to ``max_queued`` more wait for a slot, each
    for at most ``max_queue_wait`` seconds (``None``: as long as it takes)."""

    max_concurrent: int
    max_queued: int = DEFAULT_MAX_QUEUED
    max_queue_wait: float | None = DEFAULT_MAX_QUEUE_WAIT

    def __post_init__(self) -> None:
        _validate.integer("max_concurrent", self.max_concurrent, 1)
        _validate.integer("max_queued", self.max_queued, 0)
        if self.max_queue_wait is not None:
            _validate.positive("max_queue_wait", self.max_queue_wait)
