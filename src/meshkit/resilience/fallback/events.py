"""What a fallback reports."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.events import Event

__all__ = ["FallbackUsed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackUsed(Event):
    """A failure (described in ``failure``) was answered from ``source_kind``:
    ``"last_good"``, ``"factory"`` or ``"value"``."""

    source_kind: str
    failure: str
