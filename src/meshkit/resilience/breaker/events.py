"""Events and statistics of the circuit breaker."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.events import Event
from meshkit.resilience.breaker.states import CircuitState

__all__ = ["CircuitBreakerStats", "CircuitCallRejected", "CircuitStateChanged"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitStateChanged(Event):
    """The breaker moved ``from_state`` → ``to_state``; ``reason`` says why in words, and the
    window's rates at that moment are attached (``None`` when the window was not consulted)."""

    from_state: CircuitState
    to_state: CircuitState
    reason: str
    failure_rate: float | None = None
    slow_call_rate: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitCallRejected(Event):
    """A call was refused without running because the breaker is not letting calls through."""

    state: CircuitState
    retry_after: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitBreakerStats:
    """A snapshot: the state, what the window holds, and lifetime counters."""

    state: CircuitState
    calls: int
    failures: int
    slow_calls: int
    failure_rate: float
    slow_call_rate: float
    consecutive_failures: int
    rejected: int
    trips: int
