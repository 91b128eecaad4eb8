"""What hedging reports."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.events import Event

__all__ = ["HedgeStarted"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeStarted(Event):
    """Attempt number ``attempt`` (2 = the first hedge) joined the race; ``reason`` is
    ``"slow"`` (the delay passed) or ``"failed"`` (an earlier attempt failed)."""

    attempt: int
    reason: str
