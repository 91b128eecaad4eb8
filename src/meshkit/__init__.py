"""meshkit — a service mesh for Python.

The public surface is the names below; ``tests/test_public_api.py`` locks it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from meshkit._docs import restore_documentation
from meshkit.balancing import BalancerOptions, Endpoint, LoadBalancer
from meshkit.clock import SYSTEM_CLOCK, Clock, FakeClock, SystemClock
from meshkit.errors import (
    BulkheadFull,
    CircuitOpen,
    ConfigError,
    ConnectFailed,
    InstanceNotFound,
    InvalidRegistration,
    MeshError,
    NoHealthyEndpoint,
    PolicyRejected,
    RateLimited,
    RegistryError,
    RetryBudgetExhausted,
    ServiceAlreadyRegistered,
    ServiceNotFound,
    StoreError,
    TimeoutExceeded,
    UpstreamError,
    UpstreamTimeout,
)
from meshkit.events import Event, EventBus
from meshkit.health import HealthStatus
from meshkit.mesh import ServiceMesh
from meshkit.ratelimit import Rate, RateLimiter, RateLimitOptions
from meshkit.registry import Catalog, Instance, MemoryStore, Registry, Service, SqliteStore
from meshkit.registry.redis import RedisStore  # imports the redis client only when used
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

try:  # the version is written once, in pyproject.toml, and read from the installed metadata
    __version__ = version("meshkit")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"

__all__ = [
    "SYSTEM_CLOCK",
    "Backoff",
    "BalancerOptions",
    "Bulkhead",
    "BulkheadFull",
    "BulkheadOptions",
    "BulkheadPools",
    "Catalog",
    "CircuitBreaker",
    "CircuitBreakerOptions",
    "CircuitOpen",
    "CircuitState",
    "Clock",
    "ConfigError",
    "ConnectFailed",
    "Endpoint",
    "Event",
    "EventBus",
    "FakeClock",
    "Fallback",
    "FallbackOptions",
    "HealthStatus",
    "Hedging",
    "HedgingOptions",
    "Instance",
    "InstanceNotFound",
    "InvalidRegistration",
    "LoadBalancer",
    "MemoryStore",
    "MeshError",
    "NoHealthyEndpoint",
    "OutcomeFilter",
    "Pipeline",
    "PolicyRejected",
    "Rate",
    "RateLimitOptions",
    "RateLimited",
    "RateLimiter",
    "RedisStore",
    "Registry",
    "RegistryError",
    "Retry",
    "RetryBudget",
    "RetryBudgetExhausted",
    "RetryOptions",
    "Service",
    "ServiceAlreadyRegistered",
    "ServiceMesh",
    "ServiceNotFound",
    "SqliteStore",
    "StoreError",
    "SystemClock",
    "Timeout",
    "TimeoutExceeded",
    "TimeoutOptions",
    "UpstreamError",
    "UpstreamTimeout",
    "__version__",
]

# mypyc drops the docstrings and signatures of the classes it compiles: read them from the
# sources when asked (help(), inspect.signature), so both builds document the same way.
restore_documentation(globals()[name] for name in __all__)
