"""One service's health, summed up from the statuses of its targets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from meshkit import _validate
from meshkit.health.status import HealthStatus

__all__ = ["ServiceHealth"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceHealth:
    """Counts per status and a verdict for the whole service.

    A target is *healthy* when it can take traffic (passing, or warning unless
    ``warning_is_healthy`` is off). The service is ``CRITICAL`` when no target is healthy
    (including when it has none), ``WARNING`` (degraded) when the healthy share is below
    ``degraded_below``, else ``PASSING``. The default threshold, 1.0, calls a service degraded
    as soon as one target is not healthy; 0.5 would tolerate losing half.
    """

    status: HealthStatus
    total: int
    healthy: int
    passing: int
    warning: int
    critical: int
    unknown: int

    @classmethod
    def of(
        cls,
        statuses: Iterable[HealthStatus],
        *,
        degraded_below: float = 1.0,
        warning_is_healthy: bool = True,
    ) -> ServiceHealth:
        _validate.between("degraded_below", degraded_below, 0.0, 1.0)
        counts = Counter(statuses)
        total = sum(counts.values())
        passing = counts[HealthStatus.PASSING]
        warning = counts[HealthStatus.WARNING]
        healthy = passing + warning if warning_is_healthy else passing
        if healthy == 0:
            verdict = HealthStatus.CRITICAL
        elif healthy < degraded_below * total:
            verdict = HealthStatus.WARNING
        else:
            verdict = HealthStatus.PASSING
        return cls(
            status=verdict,
            total=total,
            healthy=healthy,
            passing=passing,
            warning=warning,
            critical=counts[HealthStatus.CRITICAL],
            unknown=counts[HealthStatus.UNKNOWN],
        )

    @property
    def healthy_share(self) -> float:
        """Healthy targets over all targets (0.0 for a service with none)."""
        return self.healthy / self.total if self.total else 0.0

    @property
    def degraded(self) -> bool:
        return self.status is HealthStatus.WARNING
