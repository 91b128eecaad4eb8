"""How often and how patiently one target is checked, and how results turn into a status."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit import _validate
from meshkit.errors import ConfigError
from meshkit.health.status import HealthStatus

__all__ = [
    "DEFAULT_CHECK_OPTIONS",
    "DEFAULT_FALL",
    "DEFAULT_JITTER",
    "DEFAULT_RISE",
    "CheckOptions",
]

# The defaults a YAML health check shares with these options (one place for each).
DEFAULT_JITTER = 0.1  # ±10 % of the interval: enough to spread probes started together
# HAProxy's defaults: two good answers to come back, three misses to be taken out.
DEFAULT_RISE = 2
DEFAULT_FALL = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOptions:
    """Per-check settings.

    ``interval``: seconds between the end of one probe and the start of the next;
    ``jitter``: fraction of ``interval`` by which each wait is randomly stretched or shrunk,
    so that many targets added together drift apart instead of probing in lockstep;
    ``timeout``: seconds one probe may take before it counts as critical (at most ``interval``);
    ``rise`` / ``fall``: consecutive answering / failing results needed to cross from critical
    to up and from up to critical (HAProxy's names; Envoy's healthy / unhealthy thresholds);
    ``deregister_critical_after``: seconds of uninterrupted critical status after which the
    target is deregistered (Consul's ``deregister_critical_service_after``); ``None`` never;
    ``initial_status``: the status before any result. ``UNKNOWN`` lets the first result decide
    at once; ``CRITICAL`` (Consul's default for new checks) makes a new target earn ``rise``
    answering results first; ``PASSING`` trusts it until ``fall`` failures.
    """

    interval: float = 10.0
    jitter: float = DEFAULT_JITTER
    timeout: float = 5.0
    rise: int = DEFAULT_RISE
    fall: int = DEFAULT_FALL
    deregister_critical_after: float | None = None
    initial_status: HealthStatus = HealthStatus.UNKNOWN

    def __post_init__(self) -> None:
        _validate.positive("interval", self.interval)
        _validate.between("jitter", self.jitter, 0.0, 1.0)
        _validate.positive("timeout", self.timeout)
        _validate.not_above("timeout", self.timeout, "interval", self.interval)
        for option in ("rise", "fall"):
            value = getattr(self, option)
            _validate.integer(option, value)
            _validate.at_least(option, value, 1)
        if self.deregister_critical_after is not None:
            _validate.positive("deregister_critical_after", self.deregister_critical_after)
        if not isinstance(self.initial_status, HealthStatus):
            raise ConfigError(
                f"initial_status must be a HealthStatus, got {self.initial_status!r}",
                option="initial_status",
            )


DEFAULT_CHECK_OPTIONS = CheckOptions()
