"""Retry, in the file set every policy package has.

``options`` (``RetryOptions`` and its named defaults), ``events`` (``RetryScheduled``,
``RetryGaveUp``), ``core`` (the decision: pure, synchronous, clock passed in), ``policy`` (the
``Retry`` wrapper with ``plan``, ``execute`` and ``execute_sync``) and ``budget`` (the retry
budget shared by every caller of a dependency; compiled, as the gateway counts every request
in it).
"""

from __future__ import annotations

from meshkit.resilience.retry.budget import RetryBudget, RetryBudgetStats
from meshkit.resilience.retry.core import RetryOutcome
from meshkit.resilience.retry.events import RetryGaveUp, RetryScheduled
from meshkit.resilience.retry.options import (
    DEFAULT_HONOR_RETRY_AFTER,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_RETRY_OPTIONS,
    RetryOptions,
)
from meshkit.resilience.retry.policy import Retry

__all__ = [
    "DEFAULT_HONOR_RETRY_AFTER",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_RETRY_AFTER",
    "DEFAULT_RETRY_OPTIONS",
    "Retry",
    "RetryBudget",
    "RetryBudgetStats",
    "RetryGaveUp",
    "RetryOptions",
    "RetryOutcome",
    "RetryScheduled",
]
