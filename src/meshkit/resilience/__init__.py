"""Resilience policies: breaker, retry, timeout, bulkhead, fallback, hedging, pipeline."""

from __future__ import annotations

from meshkit.resilience._outcome import OutcomeFilter, retry_after_hint
from meshkit.resilience._policy import Policy, PolicyKind

__all__ = ["OutcomeFilter", "Policy", "PolicyKind", "retry_after_hint"]
