"""What a health check says: a status and the reason for it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CheckResult", "HealthStatus"]


class HealthStatus(enum.StrEnum):
    """The health of one target, in Consul's words.

    ``PASSING`` and ``WARNING`` targets answer (a warning one is degraded, e.g. it said 429);
    ``CRITICAL`` ones do not, or answer wrongly. ``UNKNOWN`` is the state before the first
    result; a check returning it is inconclusive and changes nothing.
    """

    UNKNOWN = "unknown"
    PASSING = "passing"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def is_up(self) -> bool:
        """True for the statuses under which a target may receive traffic."""
        return self is HealthStatus.PASSING or self is HealthStatus.WARNING


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One raw observation of a target: ``status`` plus a human ``reason`` (Consul's output)."""

    status: HealthStatus
    reason: str = ""

    def __post_init__(self) -> None:
        if type(self.status) is not HealthStatus:
            # A plain "passing" would compare equal but fail the identity checks of the state
            # machine; normalise once here (an unknown string raises ValueError).
            object.__setattr__(self, "status", HealthStatus(self.status))

    @classmethod
    def passing(cls, reason: str = "") -> CheckResult:
        return cls(HealthStatus.PASSING, reason)

    @classmethod
    def warning(cls, reason: str = "") -> CheckResult:
        return cls(HealthStatus.WARNING, reason)

    @classmethod
    def critical(cls, reason: str = "") -> CheckResult:
        return cls(HealthStatus.CRITICAL, reason)
