"""Resilience policies: breaker, retry, timeout, bulkhead, fallback, hedging, pipeline.

Every policy is built as ``Policy(options, *, name=..., clock=..., events=...)`` with frozen
options validated at construction, and composes with the others in a :class:`Pipeline`.
"""

from __future__ import annotations

from meshkit.resilience._outcome import OutcomeFilter, retry_after_hint
from meshkit.resilience._policy import Policy, PolicyKind
from meshkit.resilience.backoff import Backoff, BackoffKind
from meshkit.resilience.breaker import CircuitBreaker
from meshkit.resilience.breaker_options import (
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
from meshkit.resilience.retry import Retry, RetryGaveUp, RetryOptions, RetryScheduled
from meshkit.resilience.retry_budget import RetryBudget, RetryBudgetStats
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
    "RetryScheduled",
    "Timeout",
    "TimeoutOccurred",
    "TimeoutOptions",
    "retry_after_hint",
]
