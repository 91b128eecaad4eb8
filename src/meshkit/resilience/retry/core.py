"""Retry's decision: after a failure, whether and when to try again. Pure and synchronous.

Theory of operation
-------------------
The first attempt is the hot path: it counts one request in the budget (if any) and runs the
call; nothing else happens unless it fails. After a failure, one decision — :func:`decide` —
says whether and when to try again, in this order:

1. (the wrapper's part) the outcome must be retryable (``retry_on``: exception types, an
   exception predicate, or a result predicate such as "status is 503"); a caller's other
   exceptions pass through as-is;
2. attempts left (``max_attempts`` counts the first call);
3. the delay: the backoff's, or longer if the failure carries a ``retry_after`` hint (a 429's
   ``Retry-After``, an open breaker's wait) and ``honor_retry_after`` is on — hints above
   ``max_retry_after`` are not worth waiting for and end the retries;
4. time left: a retry that would start after ``max_total_time`` (counted from the first
   attempt's start) is not scheduled;
5. the budget (shared by every caller of this policy): no retry without its permission, so an
   outage cannot multiply the load on the failing dependency (see ``retry.budget``). The
   budget is asked last because asking spends: a retry refused for another reason must not
   use up a retry another caller could have had.

The decision reads no clock and sleeps on nothing: the caller passes ``now`` (monotonic
seconds) and the ``started`` time of the first attempt, and randomness comes from the ``rng``
it is given. The library's ``Retry.execute`` and the gateway's callback path both ask
``Retry.plan``, which is this function plus the events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from meshkit.resilience._outcome import retry_after_hint
from meshkit.resilience.retry.options import RetryOptions

__all__ = ["BUDGET_EXHAUSTED", "RetryOutcome", "decide", "describe"]

BUDGET_EXHAUSTED = "retry budget exhausted"
"""The reason :func:`decide` gives when the budget refused; the async wrapper raises on it."""


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    """A failure that is not an exception: what the gateway hands ``Retry.plan`` for an
    upstream's 503 or a refused connection. ``description`` goes into the events;
    ``retry_after`` is the wait the failure asked for (a ``Retry-After`` header), if any."""

    description: str
    retry_after: float | None = None


def describe(outcome: object) -> str:
    """A short description of a failure for the events."""
    if isinstance(outcome, BaseException):
        return f"{type(outcome).__name__}: {outcome}"
    if isinstance(outcome, RetryOutcome):
        return outcome.description
    return f"result {outcome!r}"


def decide(
    options: RetryOptions,
    attempt: int,
    outcome: object,
    *,
    now: float,
    started: float,
    previous: float | None,
    rng: random.Random | None,
) -> float | str:
    """The delay before attempt ``attempt + 1`` (a float), or why to give up (a str).

    A reason rather than ``None`` so that the caller can tell the budget's refusal
    (:data:`BUDGET_EXHAUSTED`) from the others; the budget, if consulted and willing, has
    spent one retry when a delay is returned.
    """
    if options.max_attempts is not None and attempt >= options.max_attempts:
        return f"all {attempt} attempts failed"
    delay = options.backoff.delay(attempt, previous, rng)
    if options.honor_retry_after:
        hint = retry_after_hint(outcome)
        if hint is not None:
            if hint > options.max_retry_after:
                return (
                    f"asked to wait {hint:g}s, above max_retry_after {options.max_retry_after:g}s"
                )
            delay = max(delay, hint)
    if options.max_total_time is not None and now - started + delay > options.max_total_time:
        return f"max_total_time {options.max_total_time:g}s would pass"
    budget = options.budget
    if budget is not None and not budget.try_spend():
        return BUDGET_EXHAUSTED
    return delay
