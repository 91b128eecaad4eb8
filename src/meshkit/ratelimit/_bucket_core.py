"""The decision cores of :mod:`~meshkit.ratelimit.bucket` (see there for the theory).

They compile with the gateway's data path, where a route's limit is asked on every request;
the public :class:`~meshkit.ratelimit.bucket.TokenBucket` and
:class:`~meshkit.ratelimit.bucket.GCRA` subclass them in pure Python to validate their options
first, so a bad rate or burst is a ``ConfigError`` whether or not this module is compiled.
"""

from __future__ import annotations

import math
from typing import Final

from mypy_extensions import mypyc_attr

from meshkit.ratelimit._decision import Decision
from meshkit.ratelimit.algorithm import EPSILON as _EPSILON
from meshkit.ratelimit.algorithm import DecisionDraft, check_cost, decision, new_draft

__all__ = ["GcraCore", "TokenBucketCore"]

# Final: a compiled build keeps these in C statics instead of looking them up per request
EPSILON: Final = _EPSILON
_DRAFT: Final = DecisionDraft
_DECISION: Final = Decision
_NEW_DRAFT: Final = new_draft


@mypyc_attr(allow_interpreted_subclasses=True)
class _RateAndBurst:
    """What both cores are configured with."""

    __slots__ = ("_burst", "_rate")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = float(rate)
        self._burst = burst

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return self._burst

    @property
    def limit(self) -> int:
        return self._burst


@mypyc_attr(allow_interpreted_subclasses=True)
class TokenBucketCore(_RateAndBurst):
    """The token bucket's state and decisions (:class:`~meshkit.ratelimit.bucket.TokenBucket`
    validates its options first)."""

    __slots__ = ("_capacity", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self._capacity = float(burst)
        self._tokens = self._capacity
        self._stamp = -math.inf  # "never looked": the first refill fills the bucket

    @property
    def full_reset_time(self) -> float:
        return self._capacity / self._rate

    def admit(self, now: float, cost: int = 1) -> bool:
        """``acquire(now, cost).allowed``, with the same effect, but no decision built."""
        tokens = self._tokens
        stamp = self._stamp
        if now > stamp:
            tokens += (now - stamp) * self._rate
            if tokens > self._capacity:  # noqa: PLR1730  (min() costs 50 ns more per request)
                tokens = self._capacity
            self._stamp = now
        if 0 < cost <= tokens + EPSILON:
            tokens -= cost
            if tokens < 0.0:  # noqa: PLR1730  admitted within EPSILON: carry no dust as debt
                tokens = 0.0
            self._tokens = tokens
            return True
        self._tokens = tokens
        return False

    def acquire(self, now: float, cost: int = 1) -> Decision:
        if self.admit(now, cost):
            tokens = self._tokens
            # decision(True, burst, remaining, reset_after, 0.0), inlined: the hot path
            draft = _NEW_DRAFT(_DRAFT)
            draft.allowed = True
            draft.limit = self._burst
            draft.remaining = int(tokens + EPSILON)
            draft.reset_after = (self._capacity - tokens) / self._rate
            draft.retry_after = 0.0
            draft.__class__ = _DECISION  # type: ignore[assignment]
            return draft  # type: ignore[return-value]
        return self._refusal(self._tokens, cost)

    def peek(self, now: float, cost: int = 1) -> Decision:
        tokens = self._tokens
        if now > self._stamp:
            tokens = min(self._capacity, tokens + (now - self._stamp) * self._rate)
        if 0 < cost <= tokens + EPSILON:
            return decision(
                True,
                self._burst,
                int(tokens + EPSILON),
                (self._capacity - tokens) / self._rate,
                0.0,
            )
        return self._refusal(tokens, cost)

    def _refusal(self, tokens: float, cost: int) -> Decision:
        check_cost(cost)
        retry_after = math.inf if cost > self._burst else (cost - tokens) / self._rate
        return decision(
            False,
            self._burst,
            int(tokens + EPSILON),
            (self._capacity - tokens) / self._rate,
            retry_after,
        )


@mypyc_attr(allow_interpreted_subclasses=True)
class GcraCore(_RateAndBurst):
    """GCRA's state and decisions (:class:`~meshkit.ratelimit.bucket.GCRA` validates its
    options first)."""

    __slots__ = ("_ceiling", "_interval", "_tat", "_tolerance")

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self._interval = 1.0 / self._rate
        self._tolerance = burst * self._interval
        # How far ahead the schedule may run: the tolerance plus EPSILON units of float dust,
        # the same forgiveness the token bucket applies to its level.
        self._ceiling = self._tolerance + EPSILON * self._interval
        self._tat = -math.inf  # "never used": max(tat, now) starts the schedule at now

    @property
    def emission_interval(self) -> float:
        """Seconds each unit pushes the schedule: ``1 / rate``."""
        return self._interval

    @property
    def tolerance(self) -> float:
        """How far ahead of now the schedule may run: ``burst / rate`` seconds."""
        return self._tolerance

    @property
    def full_reset_time(self) -> float:
        return self._tolerance

    def admit(self, now: float, cost: int = 1) -> bool:
        """``acquire(now, cost).allowed``, with the same effect, but no decision built."""
        tat = self._tat
        if tat < now:  # noqa: PLR1730  (max() costs 50 ns more per request)
            tat = now
        pushed = tat + cost * self._interval
        if cost > 0 and pushed - now <= self._ceiling:
            self._tat = pushed
            return True
        return False

    def acquire(self, now: float, cost: int = 1) -> Decision:
        if self.admit(now, cost):
            ahead = self._tat - now
            # decision(True, burst, remaining, ahead, 0.0), inlined: the hot path
            draft = _NEW_DRAFT(_DRAFT)
            draft.allowed = True
            draft.limit = self._burst
            draft.remaining = int((self._tolerance - ahead) * self._rate + EPSILON)
            draft.reset_after = ahead
            draft.retry_after = 0.0
            draft.__class__ = _DECISION  # type: ignore[assignment]
            return draft  # type: ignore[return-value]
        tat = max(self._tat, now)
        return self._refusal(tat - now, tat + cost * self._interval - now, cost)

    def peek(self, now: float, cost: int = 1) -> Decision:
        tat = max(self._tat, now)
        ahead_now = tat - now
        ahead = tat + cost * self._interval - now  # the same arithmetic as acquire's
        if cost > 0 and ahead <= self._ceiling:
            return decision(
                True,
                self._burst,
                int((self._tolerance - ahead_now) * self._rate + EPSILON),
                ahead_now,
                0.0,
            )
        return self._refusal(ahead_now, ahead, cost)

    def _refusal(self, ahead_now: float, ahead: float, cost: int) -> Decision:
        check_cost(cost)
        retry_after = math.inf if cost > self._burst else ahead - self._tolerance
        # max(0, ...): after a clock step back the schedule may run further ahead than allowed.
        remaining = max(0, int((self._tolerance - ahead_now) * self._rate + EPSILON))
        return decision(False, self._burst, remaining, ahead_now, retry_after)
