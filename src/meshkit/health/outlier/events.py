"""Events of passive outlier detection."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meshkit.events import Event

__all__ = ["EjectionReason", "EndpointEjected", "EndpointUnejected"]


class EjectionReason(enum.StrEnum):
    """Which detector set the endpoint aside."""

    CONSECUTIVE_5XX = "consecutive_5xx"
    CONSECUTIVE_GATEWAY_FAILURE = "consecutive_gateway_failure"
    SUCCESS_RATE = "success_rate"
    FAILURE_PERCENTAGE = "failure_percentage"


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointEjected(Event):
    """``endpoint_id`` is out of rotation for ``duration`` seconds (its ``ejections``-th time
    in a row, which is what made the duration grow)."""

    endpoint_id: str
    reason: EjectionReason
    duration: float
    ejections: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointUnejected(Event):
    """``endpoint_id``'s ejection ran out; it is back in rotation."""

    endpoint_id: str
