"""The balancer's live view of one endpoint: identity, weight, zone, and what traffic says.

An :class:`Endpoint` is owned by one :class:`~meshkit.balancing.LoadBalancer`. Its availability
flags (``healthy``, ``ejected``, ``breaker_open``) are changed through the balancer, which
rebuilds its pick structures on every change; the traffic figures (``in_flight`` and the
peak-EWMA latency) are updated in place on every request, so reading them costs nothing.
"""

from __future__ import annotations

from typing import Any

from meshkit import _validate
from meshkit.errors import ConfigError

__all__ = ["MAX_WEIGHT", "Endpoint"]

MAX_WEIGHT = 10_000


class Endpoint:
    """One place a request can go. ``payload`` carries the caller's own record (an address,
    a registry instance); the balancer never looks inside it."""

    __slots__ = (
        "added_at",
        "breaker_open",
        "ejected",
        "ewma",
        "ewma_at",
        "healthy",
        "id",
        "in_flight",
        "payload",
        "penalty_until",
        "pending_since",
        "stats",
        "weight",
        "zone",
    )

    def __init__(
        self,
        id: str,
        *,
        weight: int = 100,
        zone: str | None = None,
        payload: Any = None,
    ) -> None:
        if not isinstance(id, str) or not id:
            raise ConfigError(f"endpoint id must be a non-empty string, got {id!r}", option="id")
        _validate.integer("weight", weight)
        _validate.between("weight", weight, 0, MAX_WEIGHT)
        self.id = id
        self.weight = weight
        self.zone = zone
        self.payload = payload
        self.healthy = True
        self.ejected = False
        self.breaker_open = False
        self.in_flight = 0
        self.pending_since = 0.0  # sum of the start times of the requests in flight
        self.ewma = 0.0  # seconds; 0 until the first response is measured
        self.ewma_at = 0.0  # monotonic time of the last EWMA update
        self.penalty_until = 0.0  # answered 429/503: avoided until then
        self.added_at = 0.0
        self.stats: Any = None  # the owner's per-endpoint statistics, bound once

    @property
    def available(self) -> bool:
        """Healthy, not ejected by outlier detection, and its breaker is not open."""
        return self.healthy and not self.ejected and not self.breaker_open and self.weight > 0

    def __repr__(self) -> str:
        flags = "" if self.available else " unavailable"
        return f"Endpoint({self.id!r}, weight={self.weight}, zone={self.zone!r}{flags})"
