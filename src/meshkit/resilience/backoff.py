"""How long to wait before each retry: constant, linear, exponential and the jittered kinds.

Theory of operation
-------------------
``Backoff.delay(attempt, previous_delay, rng)`` is a pure function: ``attempt`` is the number
of the attempt that just failed (1 = the first call), so it also numbers the retry about to be
scheduled. With ``b = base``, ``f = factor``, ``cap = max_delay`` and
``ceiling(n) = min(cap, b * f ** (n - 1))``:

==============================  =================================================  ===========
kind                            delay before retry ``n``                           bounds
==============================  =================================================  ===========
``constant``                    ``b``                                              ``b``
``linear``                      ``min(cap, b * (1 + f * (n - 1)))``                ``[b, cap]``
``exponential``                 ``ceiling(n)``                                     ``[b, cap]``
``exponential_full_jitter``     ``uniform(0, ceiling(n))``                         ``[0, cap]``
``exponential_equal_jitter``    ``ceiling(n) / 2 + uniform(0, ceiling(n) / 2)``    ``[b/2, cap]``
``decorrelated_jitter``         ``min(cap, uniform(b, max(b, previous) * f))``     ``[b, cap]``
==============================  =================================================  ===========

The jittered kinds are the formulas of the AWS Architecture Blog post "Exponential Backoff
And Jitter" (Marc Brooker, 2015): jitter spreads the retries of many clients that failed
together, so they do not come back in synchronized waves. Full jitter and decorrelated jitter
do the least total work there; equal jitter keeps a guaranteed minimum wait.

``factor`` is ``multiplier`` when given, otherwise the kind's customary value: 2 for the
exponential kinds (doubling), 1 for linear (``b, 2b, 3b, ...``) and 3 for decorrelated jitter
(the blog's ``sleep * 3``). Randomness comes only from the ``rng`` argument, so a seeded
``random.Random`` makes a whole sequence reproducible in tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal, get_args

from meshkit import _validate

__all__ = ["BACKOFF_KINDS", "DEFAULT_BACKOFF", "Backoff", "BackoffKind"]

BackoffKind = Literal[
    "constant",
    "linear",
    "exponential",
    "exponential_full_jitter",
    "exponential_equal_jitter",
    "decorrelated_jitter",
]
BACKOFF_KINDS: tuple[BackoffKind, ...] = get_args(BackoffKind)

_DEFAULT_FACTOR: dict[str, float] = {
    "constant": 1.0,
    "linear": 1.0,
    "exponential": 2.0,
    "exponential_full_jitter": 2.0,
    "exponential_equal_jitter": 2.0,
    "decorrelated_jitter": 3.0,  # the AWS blog's `random_between(base, sleep * 3)`
}

_MAX_FACTOR = 1000.0

# Used only when a caller passes no rng; tests and reproducible runs pass their own.
_SHARED_RNG = random.Random()


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delays between attempts (see the module docstring for each kind's formula).

    ``base``: first delay, seconds (>= 0); ``multiplier``: growth factor (``None`` = the kind's
    customary one); ``max_delay``: cap on every delay, seconds (>= ``base``; ``inf`` = none).

    >>> Backoff(kind="exponential", base=0.1, max_delay=1.0).delays(5)
    [0.1, 0.2, 0.4, 0.8, 1.0]
    """

    kind: BackoffKind = "exponential_full_jitter"
    base: float = 0.1
    multiplier: float | None = None
    max_delay: float = 10.0
    factor: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate.one_of("kind", self.kind, BACKOFF_KINDS)
        _validate.at_least("base", self.base, 0)
        _validate.positive("max_delay", self.max_delay)
        _validate.not_above("base", self.base, "max_delay", self.max_delay)
        factor = self.multiplier if self.multiplier is not None else _DEFAULT_FACTOR[self.kind]
        if self.multiplier is not None:
            # Linear may stand still (factor 0 = constant); the others must not shrink. The
            # upper bound only keeps the arithmetic finite: no real backoff grows 1000x a step.
            low = 0 if self.kind == "linear" else 1
            _validate.between("multiplier", factor, low, _MAX_FACTOR)
        object.__setattr__(self, "factor", float(factor))

    @property
    def bounds(self) -> tuple[float, float]:
        """The documented ``(lowest, highest)`` delay this backoff can return."""
        kind = self.kind
        if kind == "constant":
            return (self.base, self.base)
        if kind == "exponential_full_jitter":
            return (0.0, self.max_delay)
        if kind == "exponential_equal_jitter":
            return (self.base / 2, self.max_delay)
        return (self.base, self.max_delay)

    def delay(
        self,
        attempt: int,
        previous_delay: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait after attempt number ``attempt`` (1-based) failed.

        ``previous_delay`` is the delay returned for the previous retry (only decorrelated
        jitter uses it; ``None`` before the first retry). ``rng`` supplies the jitter.
        """
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        kind = self.kind
        if kind == "constant":
            return self.base
        if kind == "linear":
            return min(self.max_delay, self.base * (1.0 + self.factor * (attempt - 1)))
        if kind == "decorrelated_jitter":
            prev = self.base if previous_delay is None else max(self.base, previous_delay)
            # A previous delay above the cap (passed in by hand) must not widen the draw.
            upper = min(prev, self.max_delay) * self.factor
            return min(self.max_delay, (rng or _SHARED_RNG).uniform(self.base, upper))
        ceiling = self._ceiling(attempt)
        if kind == "exponential":
            return ceiling
        jitter = rng or _SHARED_RNG
        if kind == "exponential_full_jitter":
            # uniform(a, b) may round to a hair past b; the cap is a promise.
            return min(ceiling, jitter.uniform(0.0, ceiling))
        half = ceiling / 2  # exponential_equal_jitter
        return min(ceiling, half + jitter.uniform(0.0, half))

    def delays(self, count: int, rng: random.Random | None = None) -> list[float]:
        """The first ``count`` delays of one retry sequence (for docs, demos and tests)."""
        out: list[float] = []
        previous: float | None = None
        for attempt in range(1, count + 1):
            previous = self.delay(attempt, previous, rng)
            out.append(previous)
        return out

    def _ceiling(self, attempt: int) -> float:
        """``min(max_delay, base * factor ** (attempt - 1))`` without float overflow."""
        if self.base == 0:
            return 0.0
        try:
            return min(self.max_delay, self.base * self.factor ** (attempt - 1))
        except OverflowError:  # factor ** n beyond float range: far past any cap
            return self.max_delay


DEFAULT_BACKOFF = Backoff()
"""Exponential backoff with full jitter from 0.1 s, doubling, capped at 10 s."""
