"""Resilience policies: breaker, retry, timeout, bulkhead, fallback, hedging, pipeline.

Each policy is a package with the same files: ``options`` (a frozen options class, its named
``DEFAULT_*`` values, checks through ``meshkit._validate``), ``events``, ``core`` (the pure,
synchronous decision the gateway calls from its callbacks) and ``policy`` (the wrapper with
``execute`` / ``execute_sync``).

Every policy is built as ``Policy(options, *, name=..., clock=..., events=...)`` with frozen
options validated at construction, and composes with the others in a :class:`Pipeline`.
"""

from __future__ import annotations

from meshkit.resilience._outcome import OutcomeFilter, retry_after_hint
from meshkit.resilience._policy import Policy, PolicyKind
from meshkit.resilience.backoff import Backoff, BackoffKind
from meshkit.resilience.breaker import (
    CircuitBreaker,
    CircuitBreakerOptions,
    CircuitBreakerStats,
    CircuitCallRejected,
    CircuitState,
    CircuitStateChanged,
)
from meshkit.resilience.bulkhead import (
    Bulkhead,
    BulkheadOptions,
    BulkheadPools,
    BulkheadRejected,
    BulkheadStats,
)
from meshkit.resilience.fallback import Fallback, FallbackOptions, FallbackUsed
from meshkit.resilience.hedging import HedgeStarted, Hedging, HedgingOptions
from meshkit.resilience.pipeline import Pipeline
from meshkit.resilience.retry import (
    Retry,
    RetryBudget,
    RetryBudgetStats,
    RetryGaveUp,
    RetryOptions,
    RetryOutcome,
    RetryScheduled,
)
from meshkit.resilience.timeout import Timeout, TimeoutOccurred, TimeoutOptions

__all__ = [
    "Backoff",
    "BackoffKind",
    "Bulkhead",
    "BulkheadOptions",
    "BulkheadPools",
    "BulkheadRejected",
    "BulkheadStats",
    "CircuitBreaker",
    "CircuitBreakerOptions",
    "CircuitBreakerStats",
    "CircuitCallRejected",
    "CircuitState",
    "CircuitStateChanged",
    "Fallback",
    "FallbackOptions",
    "FallbackUsed",
    "HedgeStarted",
    "Hedging",
    "HedgingOptions",
    "OutcomeFilter",
    "Pipeline",
    "Policy",
    "PolicyKind",
    "Retry",
    "RetryBudget",
    "RetryBudgetStats",
    "RetryGaveUp",
    "RetryOptions",
    "RetryOutcome",
    "RetryScheduled",
    "Timeout",
    "TimeoutOccurred",
    "TimeoutOptions",
    "retry_after_hint",
]
