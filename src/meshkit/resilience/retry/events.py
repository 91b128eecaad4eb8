"""What a retry policy reports: a retry scheduled, or retries given up (and why)."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.events import Event

__all__ = ["RetryGaveUp", "RetryScheduled"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryScheduled(Event):
    """Attempt ``attempt`` failed with ``failure`` (a short description); the next one starts
    after ``delay`` seconds."""

    attempt: int
    delay: float
    failure: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryGaveUp(Event):
    """No more retries after ``attempts`` attempts; ``reason`` says which limit ended them."""

    attempts: int
    reason: str
    failure: str
