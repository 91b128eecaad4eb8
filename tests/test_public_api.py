"""The public surface is a promise: changing it must be a deliberate edit of this list."""

from __future__ import annotations

import meshkit

EXPECTED = {
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
}


def test_public_names_are_exactly_the_curated_list() -> None:
    assert set(meshkit.__all__) == EXPECTED
    assert len(meshkit.__all__) == len(set(meshkit.__all__))


def test_every_public_name_resolves() -> None:
    for name in meshkit.__all__:
        assert getattr(meshkit, name) is not None
