"""Hedging options, checked once."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit import _validate
from meshkit.resilience._outcome import OutcomeFilter

__all__ = ["DEFAULT_MAX_HEDGED_ATTEMPTS", "HedgingOptions"]


_ANY_EXCEPTION = OutcomeFilter()
DEFAULT_MAX_HEDGED_ATTEMPTS = 1  # one hedge halves the tail for twice the load at worst
_MAX_HEDGED_ATTEMPTS = 10  # beyond this a hedge is a load test


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgingOptions:
    """``delay``: seconds before the next attempt joins the race; ``max_hedged_attempts``:
    attempts beyond the first; ``handle``: which failures let the race go on."""

    delay: float
    max_hedged_attempts: int = DEFAULT_MAX_HEDGED_ATTEMPTS
    handle: OutcomeFilter = _ANY_EXCEPTION

    def __post_init__(self) -> None:
        _validate.at_least("delay", self.delay, 0)
        _validate.integer("max_hedged_attempts", self.max_hedged_attempts, 1, _MAX_HEDGED_ATTEMPTS)
