"""Retry options, with their defaults named and their checks in ``meshkit._validate``."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit import _validate
from meshkit.errors import ConfigError
from meshkit.resilience._outcome import OutcomeFilter
from meshkit.resilience.backoff import DEFAULT_BACKOFF, Backoff
from meshkit.resilience.retry.budget import RetryBudget

__all__ = [
    "DEFAULT_HONOR_RETRY_AFTER",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_RETRY_AFTER",
    "DEFAULT_RETRY_OPTIONS",
    "RetryOptions",
]

DEFAULT_MAX_ATTEMPTS = 3  # the first call and two retries: Polly's and Envoy's default too
DEFAULT_HONOR_RETRY_AFTER = True
# A server asking for more than a minute is in maintenance, not briefly overloaded: waiting
# that long inside one call would only hold the caller's own caller.
DEFAULT_MAX_RETRY_AFTER = 60.0

_MAX_ATTEMPTS = 1_000  # beyond this a loop is a bug, not a policy
_ANY_EXCEPTION = OutcomeFilter()


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryOptions:
    """``max_attempts``: calls in all, the first included (``None``: only time bounds them);
    ``max_total_time``: seconds after the first call starts beyond which no retry starts;
    ``per_try_timeout``: seconds each attempt may run before it is cancelled and counted as a
    failure (``TimeoutExceeded``; ``None``: no bound per attempt; ``execute_sync`` then runs
    each attempt on a worker thread, as :class:`~meshkit.resilience.Timeout` does);
    ``backoff``: delays between attempts; ``retry_on``: which outcomes are retried;
    ``honor_retry_after`` / ``max_retry_after``: wait as long as a failure asks, up to a cap;
    ``budget``: a :class:`RetryBudget`, usually shared by every caller of one dependency."""

    max_attempts: int | None = DEFAULT_MAX_ATTEMPTS
    max_total_time: float | None = None
    per_try_timeout: float | None = None
    backoff: Backoff = DEFAULT_BACKOFF
    retry_on: OutcomeFilter = _ANY_EXCEPTION
    honor_retry_after: bool = DEFAULT_HONOR_RETRY_AFTER
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    budget: RetryBudget | None = None

    def __post_init__(self) -> None:
        if self.max_attempts is None and self.max_total_time is None:
            raise ConfigError(
                "retries must be bounded: set max_attempts, max_total_time or both",
                option="max_attempts",
            )
        if self.max_attempts is not None:
            _validate.integer("max_attempts", self.max_attempts, 1, _MAX_ATTEMPTS)
        if self.max_total_time is not None:
            _validate.positive("max_total_time", self.max_total_time)
        if self.per_try_timeout is not None:
            _validate.positive("per_try_timeout", self.per_try_timeout)
        _validate.instance_of("backoff", self.backoff, Backoff)
        _validate.instance_of("retry_on", self.retry_on, OutcomeFilter)
        _validate.at_least("max_retry_after", self.max_retry_after, 0)
        if self.budget is not None:
            _validate.instance_of("budget", self.budget, RetryBudget)


DEFAULT_RETRY_OPTIONS = RetryOptions()
"""Three attempts, exponential backoff with full jitter (0.1 s base, 10 s cap), any exception
but meshkit's refusals, ``Retry-After`` honoured up to 60 s, no budget."""
