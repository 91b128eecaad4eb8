"""Options of the circuit breaker, checked once at construction.

The options follow resilience4j's vocabulary (sliding window, minimum calls, failure-rate and
slow-call-rate thresholds, permitted half-open calls) with two additions: a consecutive-failures
trip (the classic Hystrix / pybreaker mode, usable alone or beside the rates) and an open
duration that grows on repeated trips, as Envoy's outlier ejection does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from meshkit import _validate
from meshkit.errors import ConfigError
from meshkit.resilience._outcome import OutcomeFilter

__all__ = ["DEFAULT_BREAKER_OPTIONS", "CircuitBreakerOptions"]


_MAX_COUNT_WINDOW = 100_000  # one byte per call remembered; beyond this use a time window
_MAX_BUCKETS = 1_000
_ANY_EXCEPTION = OutcomeFilter()  # frozen, so one shared default is safe


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
            _validate.integer("window_size", self.window_size, 1, _MAX_COUNT_WINDOW)
        else:
            _validate.positive("window_size", self.window_size)
            _validate.finite("window_size", self.window_size)
        _validate.integer("time_buckets", self.time_buckets, 1, _MAX_BUCKETS)
        _validate.integer("minimum_calls", self.minimum_calls, 1)
        if self.failure_rate_threshold is not None:
            _validate.between("failure_rate_threshold", self.failure_rate_threshold, 0.0, 1.0)
            _validate.greater_than("failure_rate_threshold", self.failure_rate_threshold, 0.0)
        if self.slow_call_duration is not None:
            _validate.positive("slow_call_duration", self.slow_call_duration)
        _validate.between("slow_call_rate_threshold", self.slow_call_rate_threshold, 0.0, 1.0)
        _validate.greater_than("slow_call_rate_threshold", self.slow_call_rate_threshold, 0.0)
        if self.consecutive_failures is not None:
            _validate.integer("consecutive_failures", self.consecutive_failures, 1)
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
        _validate.integer("half_open_calls", self.half_open_calls, 1)
        if self.half_open_successes is not None:
            _validate.integer("half_open_successes", self.half_open_successes, 1)
            _validate.not_above(
                "half_open_successes",
                self.half_open_successes,
                "half_open_calls",
                self.half_open_calls,
            )
        _validate.instance_of("failure", self.failure, OutcomeFilter)

    @property
    def successes_to_close(self) -> int:
        """Probe successes needed to close (all probes unless ``half_open_successes`` says)."""
        return (
            self.half_open_calls if self.half_open_successes is None else self.half_open_successes
        )


DEFAULT_BREAKER_OPTIONS = CircuitBreakerOptions()
"""Opens at 50 % failures over the last 100 calls (once 20 are seen), for 30 s; one probe."""
