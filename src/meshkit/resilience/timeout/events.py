"""What a timeout reports."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.events import Event

__all__ = ["TimeoutOccurred"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutOccurred(Event):
    """A call ran past its deadline and was cancelled."""

    seconds: float
