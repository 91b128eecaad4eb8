"""Timeout options, checked once."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit import _validate

__all__ = ["TimeoutOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutOptions:
    """``seconds``: the deadline; ``per_attempt``: bound each attempt (inside retry) rather
    than the whole call (outside retry) — it only decides the default pipeline position."""

    seconds: float
    per_attempt: bool = False

    def __post_init__(self) -> None:
        _validate.positive("seconds", self.seconds)
