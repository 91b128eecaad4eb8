"""A service's retry section: attempts, backoff, budget, per-try timeout (see ``policy``)."""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from meshkit._units import Seconds
from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.registry.policy_base import PolicyModel, under_key
from meshkit.resilience import Backoff, BackoffKind, RetryBudget, RetryOptions, TimeoutOptions
from meshkit.resilience.retry.budget import (
    DEFAULT_BUDGET_BUCKETS,
    DEFAULT_BUDGET_MIN_RETRIES_PER_SECOND,
    DEFAULT_BUDGET_RATIO,
    DEFAULT_BUDGET_WINDOW,
)

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RETRY_BUDGET_BUCKETS",
    "DEFAULT_RETRY_BUDGET_MIN_RETRIES_PER_SECOND",
    "DEFAULT_RETRY_BUDGET_RATIO",
    "DEFAULT_RETRY_BUDGET_WINDOW",
    "DEFAULT_RETRY_OPTIONS",
    "BackoffPolicy",
    "RetryBudgetPolicy",
    "RetryPolicy",
]

DEFAULT_MAX_ATTEMPTS = 1
DEFAULT_RETRY_OPTIONS = RetryOptions(
    max_attempts=DEFAULT_MAX_ATTEMPTS,
    backoff=Backoff(kind="exponential_full_jitter", base=0.025, max_delay=1.0),
)
"""A service's retries unless its policy says otherwise: none (a retry is asked for, as in
Envoy and Linkerd), and when asked, a brief jittered backoff — 25 ms doubling up to 1 s
(Envoy's base interval), since a caller is usually waiting — rather than the library's
general-purpose 100 ms to 10 s."""
_R = DEFAULT_RETRY_OPTIONS

# RetryBudget's own defaults, under the names this module has always exported.
DEFAULT_RETRY_BUDGET_RATIO = DEFAULT_BUDGET_RATIO
DEFAULT_RETRY_BUDGET_MIN_RETRIES_PER_SECOND = DEFAULT_BUDGET_MIN_RETRIES_PER_SECOND
DEFAULT_RETRY_BUDGET_WINDOW = DEFAULT_BUDGET_WINDOW
DEFAULT_RETRY_BUDGET_BUCKETS = DEFAULT_BUDGET_BUCKETS


class BackoffPolicy(PolicyModel):
    """How long to wait before each retry."""

    kind: BackoffKind = _R.backoff.kind
    """`exponential_full_jitter`, `exponential_equal_jitter`, `decorrelated_jitter`,
    `exponential`, `linear` or `constant`."""
    base: Seconds = _R.backoff.base
    """First delay."""
    multiplier: float | None = _R.backoff.multiplier
    """Growth per retry; absent: the kind's own (2 for the exponential kinds)."""
    max_delay: Seconds = _R.backoff.max_delay
    """Longest delay."""

    def options(self) -> Backoff:
        return Backoff(**self.model_dump())


class RetryBudgetPolicy(PolicyModel):
    """Retries allowed across all calls to the service, so an outage is not multiplied."""

    ratio: float = DEFAULT_RETRY_BUDGET_RATIO
    """Retries per request over the window (0.2: one in five)."""
    min_retries_per_second: float = DEFAULT_RETRY_BUDGET_MIN_RETRIES_PER_SECOND
    """Retries always allowed, so a quiet service may retry at all."""
    window: Seconds = DEFAULT_RETRY_BUDGET_WINDOW
    """Time over which requests and retries are counted."""
    buckets: int = DEFAULT_RETRY_BUDGET_BUCKETS
    """Slices of the window (its resolution)."""

    def options(self, clock: Clock = SYSTEM_CLOCK) -> RetryBudget:
        """A budget (one per service: it is shared state, not just settings)."""
        return RetryBudget(**self.model_dump(), clock=clock)


class RetryPolicy(PolicyModel):
    """Calling again after a failure: another instance, within attempts, time and budget."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    """Attempts per request, the first included; `1`: no retries."""
    max_total_time: Seconds | None = _R.max_total_time
    """No retry starts this long after the first attempt did; absent: attempts bound it."""
    backoff: BackoffPolicy = BackoffPolicy()
    """Delays between attempts."""
    honor_retry_after: bool = _R.honor_retry_after
    """Wait as long as a 429 or 503 asks (`Retry-After`), if longer than the backoff."""
    max_retry_after: Seconds = _R.max_retry_after
    """A `Retry-After` longer than this ends the retries instead."""
    budget: RetryBudgetPolicy = RetryBudgetPolicy()
    """The service's retry budget."""
    per_try_timeout: Seconds | None = None
    """Time one attempt may take before it is abandoned (and retried); absent: only the
    policy's `timeout` bounds it."""

    def options(self, budget: RetryBudget | None = None) -> RetryOptions:
        return RetryOptions(
            max_attempts=self.max_attempts,
            max_total_time=self.max_total_time,
            backoff=self.backoff.options(),
            honor_retry_after=self.honor_retry_after,
            max_retry_after=self.max_retry_after,
            budget=budget,
        )

    def attempt_timeout_options(self) -> TimeoutOptions | None:
        seconds = self.per_try_timeout
        if seconds is None:
            return None
        return under_key(
            "per_try_timeout", lambda: TimeoutOptions(seconds=seconds, per_attempt=True)
        )

    @model_validator(mode="after")
    def _per_try_timeout_checks(self) -> Self:
        self.attempt_timeout_options()
        return self
