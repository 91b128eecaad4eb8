"""Options, states, events and statistics of the circuit breaker.

The options follow resilience4j's vocabulary (sliding window, minimum calls, failure-rate and
slow-call-rate thresholds, permitted half-open calls) with two additions: a consecutive-failures
trip (the classic Hystrix / pybreaker mode, usable alone or beside the rates) and an open
duration that grows on repeated trips, as Envoy's outlier ejection does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from meshkit import _validate
from meshkit.errors import ConfigError
from meshkit.events import Event
from meshkit.resilience._outcome import OutcomeFilter

__all__ = [
    "ALLOWED_TRANSITIONS",
    "CircuitBreakerOptions",
    "CircuitBreakerStats",
    "CircuitCallRejected",
    "CircuitState",
    "CircuitStateChanged",
]

_MAX_COUNT_WINDOW = 100_000  # one byte per call remembered; beyond this use a time window
_MAX_BUCKETS = 1_000
_ANY_EXCEPTION = OutcomeFilter()  # frozen, so one shared default is safe


class CircuitState(enum.Enum):
    """Where a breaker stands: ``CLOSED`` lets calls through, ``OPEN`` refuses them,
    ``HALF_OPEN`` lets a few probes through to decide between the two."""

    CLOSED = "closed"  # calls flow; outcomes are counted
    OPEN = "open"  # calls are refused until the break duration has passed
    HALF_OPEN = "half_open"  # a few probe calls decide between CLOSED and OPEN
    FORCED_OPEN = "forced_open"  # an operator opened it; only reset() closes it
    DISABLED = "disabled"  # an operator switched it off: every call flows, nothing is counted


_C, _O, _H, _F, _D = (
    CircuitState.CLOSED,
    CircuitState.OPEN,
    CircuitState.HALF_OPEN,
    CircuitState.FORCED_OPEN,
    CircuitState.DISABLED,
)

ALLOWED_TRANSITIONS: frozenset[tuple[CircuitState, CircuitState]] = frozenset(
    {
        (_C, _O),  # tripped
        (_O, _H),  # break duration over
        (_H, _C),  # enough probes succeeded
        (_H, _O),  # too many probes failed
        # operator actions, from anywhere except the state itself
        *((s, _C) for s in (_O, _H, _F, _D)),  # reset()
        *((s, _F) for s in (_C, _O, _H, _D)),  # force_open()
        *((s, _D) for s in (_C, _O, _H, _F)),  # disable()
    }
)
"""Every (from, to) pair a breaker may take; tests check that it never leaves this table."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitBreakerOptions:
    """How a breaker decides to open and to close again.

    Window: ``window="count"`` remembers the last ``window_size`` calls; ``window="time"``
    remembers the calls of the last ``window_size`` seconds, in ``time_buckets`` slices.
    Tripping (any one suffices, once the window holds ``minimum_calls``): the share of failed
    calls reaches ``failure_rate_threshold`` (0..1; ``None`` = not used); the share of calls
    slower than ``slow_call_duration`` seconds reaches ``slow_call_rate_threshold`` (slow
    calls count only when a duration is given); ``consecutive_failures`` failures in a row
    (``None`` = not used; needs no minimum). Open: refuse calls for ``break_duration`` seconds,
    multiplied by ``break_duration_multiplier`` on each trip that follows a failed half-open
    test, up to ``max_break_duration``. Half-open: admit ``half_open_calls`` probes; close
    after ``half_open_successes`` of them succeed, reopen as soon as that can no longer happen.
    ``failure`` decides which exceptions and results are failures.
    """

    window: Literal["count", "time"] = "count"
    window_size: float = 100
    time_buckets: int = 10
    minimum_calls: int = 20
    failure_rate_threshold: float | None = 0.5
    slow_call_duration: float | None = None
    slow_call_rate_threshold: float = 1.0
    consecutive_failures: int | None = None
    break_duration: float = 30.0
    break_duration_multiplier: float = 1.0
    max_break_duration: float = 300.0
    half_open_calls: int = 1
    half_open_successes: int | None = None
    failure: OutcomeFilter = _ANY_EXCEPTION

    def __post_init__(self) -> None:
        _validate.one_of("window", self.window, ("count", "time"))
        if self.window == "count":
            _integer("window_size", self.window_size)
            _validate.between("window_size", self.window_size, 1, _MAX_COUNT_WINDOW)
        else:
            _validate.positive("window_size", self.window_size)
            if self.window_size == float("inf"):
                raise ConfigError("window_size must be finite, got inf", option="window_size")
        _integer("time_buckets", self.time_buckets)
        _validate.between("time_buckets", self.time_buckets, 1, _MAX_BUCKETS)
        _integer("minimum_calls", self.minimum_calls)
        _validate.at_least("minimum_calls", self.minimum_calls, 1)
        if self.failure_rate_threshold is not None:
            _validate.between("failure_rate_threshold", self.failure_rate_threshold, 0.0, 1.0)
            _validate.greater_than("failure_rate_threshold", self.failure_rate_threshold, 0.0)
        if self.slow_call_duration is not None:
            _validate.positive("slow_call_duration", self.slow_call_duration)
        _validate.between("slow_call_rate_threshold", self.slow_call_rate_threshold, 0.0, 1.0)
        _validate.greater_than("slow_call_rate_threshold", self.slow_call_rate_threshold, 0.0)
        if self.consecutive_failures is not None:
            _integer("consecutive_failures", self.consecutive_failures)
            _validate.at_least("consecutive_failures", self.consecutive_failures, 1)
        if (
            self.failure_rate_threshold is None
            and self.slow_call_duration is None
            and self.consecutive_failures is None
        ):
            raise ConfigError(
                "the breaker could never open: set failure_rate_threshold, "
                "slow_call_duration or consecutive_failures",
                option="failure_rate_threshold",
            )
        _validate.positive("break_duration", self.break_duration)
        _validate.at_least("break_duration_multiplier", self.break_duration_multiplier, 1.0)
        _validate.not_above(
            "break_duration", self.break_duration, "max_break_duration", self.max_break_duration
        )
        _integer("half_open_calls", self.half_open_calls)
        _validate.at_least("half_open_calls", self.half_open_calls, 1)
        if self.half_open_successes is not None:
            _integer("half_open_successes", self.half_open_successes)
            _validate.at_least("half_open_successes", self.half_open_successes, 1)
            _validate.not_above(
                "half_open_successes",
                self.half_open_successes,
                "half_open_calls",
                self.half_open_calls,
            )
        if not isinstance(self.failure, OutcomeFilter):
            raise ConfigError(
                f"failure must be an OutcomeFilter, got {self.failure!r}", option="failure"
            )

    @property
    def successes_to_close(self) -> int:
        """Probe successes needed to close (all probes unless ``half_open_successes`` says)."""
        return (
            self.half_open_calls if self.half_open_successes is None else self.half_open_successes
        )


def _integer(option: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{option} must be an integer, got {value!r}", option=option)


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
