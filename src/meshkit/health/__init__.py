"""Health checking: active checks (HTTP, TCP, callable), TTL heartbeats, the scheduler that
runs them, passive outlier detection, and the per-service summary.

Layering: :mod:`~meshkit.health.state`, :mod:`~meshkit.health.aggregate` and
:mod:`~meshkit.health.outlier` are pure logic (floor 1); the checks and the scheduler do I/O
(floor 2). Nothing here depends on the registry: a :class:`CheckTarget` is just an address.
"""

from __future__ import annotations

from meshkit.health.aggregate import ServiceHealth
from meshkit.health.check import Check, run_check
from meshkit.health.events import HealthStatusChanged, TargetDeregistered
from meshkit.health.function import CallableCheck
from meshkit.health.http import HttpCheck, HttpCheckOptions
from meshkit.health.options import (
    DEFAULT_CHECK_OPTIONS,
    DEFAULT_FALL,
    DEFAULT_JITTER,
    DEFAULT_RISE,
    CheckOptions,
)
from meshkit.health.outlier import (
    DEFAULT_OUTLIER_OPTIONS,
    Ejection,
    EjectionReason,
    EndpointEjected,
    EndpointOutlierStats,
    EndpointUnejected,
    ErrorKind,
    OutlierDetector,
    OutlierOptions,
)
from meshkit.health.scheduler import DEFAULT_MAX_CONCURRENT, HealthChecker
from meshkit.health.state import CheckState, StatusChange
from meshkit.health.status import CheckResult, HealthStatus
from meshkit.health.target import CheckTarget
from meshkit.health.tcp import TcpCheck
from meshkit.health.ttl import TTLCheck

__all__ = [
    "DEFAULT_CHECK_OPTIONS",
    "DEFAULT_FALL",
    "DEFAULT_JITTER",
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_OUTLIER_OPTIONS",
    "DEFAULT_RISE",
    "CallableCheck",
    "Check",
    "CheckOptions",
    "CheckResult",
    "CheckState",
    "CheckTarget",
    "Ejection",
    "EjectionReason",
    "EndpointEjected",
    "EndpointOutlierStats",
    "EndpointUnejected",
    "ErrorKind",
    "HealthChecker",
    "HealthStatus",
    "HealthStatusChanged",
    "HttpCheck",
    "HttpCheckOptions",
    "OutlierDetector",
    "OutlierOptions",
    "ServiceHealth",
    "StatusChange",
    "TTLCheck",
    "TargetDeregistered",
    "TcpCheck",
    "run_check",
]
