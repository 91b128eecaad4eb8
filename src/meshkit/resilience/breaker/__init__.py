"""The circuit breaker, in the file set every policy package has.

``options`` (what to build it with, checked once), ``events`` (what it reports), ``core`` (the
sliding windows that count outcomes: pure, compiled), ``policy`` (the state machine the
gateway calls per request, and the ``execute`` / ``execute_sync`` wrappers) and ``states``
(the enum and its one table of allowed moves).
"""

from __future__ import annotations

from meshkit.resilience.breaker.events import (
    CircuitBreakerStats,
    CircuitCallRejected,
    CircuitStateChanged,
)
from meshkit.resilience.breaker.options import DEFAULT_BREAKER_OPTIONS, CircuitBreakerOptions
from meshkit.resilience.breaker.policy import CircuitBreaker
from meshkit.resilience.breaker.states import ALLOWED_TRANSITIONS, CircuitState

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_BREAKER_OPTIONS",
    "CircuitBreaker",
    "CircuitBreakerOptions",
    "CircuitBreakerStats",
    "CircuitCallRejected",
    "CircuitState",
    "CircuitStateChanged",
]
