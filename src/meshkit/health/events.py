"""Events the health checker emits; metrics, logs, alerting and the registry listen."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.events import Event
from meshkit.health.status import HealthStatus
from meshkit.health.target import CheckTarget

__all__ = ["HealthStatusChanged", "TargetDeregistered"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthStatusChanged(Event):
    """``target`` moved from ``previous`` to ``current``; ``reason`` is the deciding result's."""

    target: CheckTarget
    previous: HealthStatus
    current: HealthStatus
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetDeregistered(Event):
    """``target`` stayed critical for ``critical_for`` seconds and was dropped from checking."""

    target: CheckTarget
    critical_for: float
