"""meshkit — a service mesh for Python.

The public surface is the names below; ``tests/test_public_api.py`` locks it.
"""

from __future__ import annotations

from meshkit.clock import SYSTEM_CLOCK, Clock, FakeClock, SystemClock
from meshkit.errors import (
    BulkheadFull,
    CircuitOpen,
    ConfigError,
    ConnectFailed,
    MeshError,
    NoHealthyEndpoint,
    PolicyRejected,
    RateLimited,
    RetryBudgetExhausted,
    ServiceNotFound,
    TimeoutExceeded,
    UpstreamError,
    UpstreamTimeout,
)
from meshkit.events import Event, EventBus

__version__ = "0.1.0"

__all__ = [
    "SYSTEM_CLOCK",
    "BulkheadFull",
    "CircuitOpen",
    "Clock",
    "ConfigError",
    "ConnectFailed",
    "Event",
    "EventBus",
    "FakeClock",
    "MeshError",
    "NoHealthyEndpoint",
    "PolicyRejected",
    "RateLimited",
    "RetryBudgetExhausted",
    "ServiceNotFound",
    "SystemClock",
    "TimeoutExceeded",
    "UpstreamError",
    "UpstreamTimeout",
    "__version__",
]
