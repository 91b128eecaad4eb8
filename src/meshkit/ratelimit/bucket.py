"""Token bucket and GCRA: the same limit, kept as a level or as a schedule.

Theory of operation
-------------------
A token bucket holds up to ``burst`` tokens and gains ``rate`` tokens per second; a request of
cost ``c`` passes when ``c`` tokens are there and takes them. Nothing runs in the background:
the bucket remembers its level and when it last looked, and tops itself up lazily on the next
request (``level + elapsed * rate``, capped at ``burst``).

GCRA (the generic cell rate algorithm of ATM networks) keeps one number instead: the
*theoretical arrival time* ``tat`` at which the bucket would be full again. Each unit pushes
``tat`` one emission interval ``T = 1/rate`` into the future; a request of cost ``c`` conforms
when, after pushing, ``tat`` is at most ``tolerance = burst * T`` ahead of now. Writing
``ahead = max(tat, now) - now``, the bucket's level is ``burst - ahead * rate``, and "ahead + c*T
<= burst*T" is exactly "c <= level": the two admit the same traffic, with the same
``remaining``, ``reset_after`` (``ahead``) and ``retry_after``. Both forgive
:data:`~meshkit.ratelimit.algorithm.EPSILON` units of float dust at the boundary.

A denied request takes nothing, so its retry is honest: for a single caller,
``acquire(now + retry_after, cost)`` passes. A ``now`` earlier than a previous one refills
nothing (the bucket) or counts as still ahead (GCRA): a clock that steps back never mints tokens.
"""

from __future__ import annotations

from meshkit import _validate
from meshkit.ratelimit._bucket_core import GcraCore, TokenBucketCore

__all__ = ["GCRA", "TokenBucket"]


class TokenBucket(TokenBucketCore):
    """Up to ``burst`` units at once, refilled at ``rate`` units per second."""

    __slots__ = ()

    def __init__(self, rate: float, burst: int) -> None:
        _validate.finite_positive("rate", rate)
        _validate.integer("burst", burst, 1)
        super().__init__(rate, burst)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate!r}, burst={self.burst!r})"


class GCRA(GcraCore):
    """The token bucket as a schedule: same admissions, one float of state."""

    __slots__ = ()

    def __init__(self, rate: float, burst: int) -> None:
        _validate.finite_positive("rate", rate)
        _validate.integer("burst", burst, 1)
        super().__init__(rate, burst)

    def __repr__(self) -> str:
        return f"GCRA(rate={self.rate!r}, burst={self.burst!r})"
