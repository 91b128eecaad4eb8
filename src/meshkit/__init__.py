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
from meshkit.ratelimit import Rate, RateLimiter, RateLimitOptions
from meshkit.resilience import (
    Backoff,
    Bulkhead,
    BulkheadOptions,
    BulkheadPools,
    CircuitBreaker,
    CircuitBreakerOptions,
    CircuitState,
    Fallback,
    FallbackOptions,
    Hedging,
    HedgingOptions,
    OutcomeFilter,
    Pipeline,
    Retry,
    RetryBudget,
    RetryOptions,
    Timeout,
    TimeoutOptions,
)

__version__ = "0.1.0"

__all__ = [
    "SYSTEM_CLOCK",
    "Backoff",
    "Bulkhead",
    "BulkheadFull",
    "BulkheadOptions",
    "BulkheadPools",
    "CircuitBreaker",
    "CircuitBreakerOptions",
    "CircuitOpen",
    "CircuitState",
    "Clock",
    "ConfigError",
    "ConnectFailed",
    "Event",
    "EventBus",
    "FakeClock",
    "Fallback",
    "FallbackOptions",
    "Hedging",
    "HedgingOptions",
    "MeshError",
    "NoHealthyEndpoint",
    "OutcomeFilter",
    "Pipeline",
    "PolicyRejected",
    "Rate",
    "RateLimitOptions",
    "RateLimited",
    "RateLimiter",
    "Retry",
    "RetryBudget",
    "RetryBudgetExhausted",
    "RetryOptions",
    "ServiceNotFound",
    "SystemClock",
    "Timeout",
    "TimeoutExceeded",
    "TimeoutOptions",
    "UpstreamError",
    "UpstreamTimeout",
    "__version__",
]
