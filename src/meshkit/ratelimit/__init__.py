"""Rate limiting: local algorithms, keyed limiters, the policy, and a Redis backend.

* algorithms (pure, ``acquire(now, cost) -> Decision``): :class:`TokenBucket`, :class:`GCRA`,
  :class:`SlidingWindowLog`, :class:`SlidingWindowCounter`, :class:`FixedWindow`;
* :class:`KeyedLimiter`: one algorithm per key, in bounded memory;
* :class:`RateLimiter`: the policy around calls, built from :class:`RateLimitOptions`;
* ``meshkit.ratelimit.redis``: the limit shared through Redis (import it explicitly; it needs
  the ``redis`` extra).
"""

from __future__ import annotations

from meshkit.ratelimit._decision import Decision
from meshkit.ratelimit.algorithm import RateLimitAlgorithm
from meshkit.ratelimit.bucket import GCRA, TokenBucket
from meshkit.ratelimit.keyed import KeyedLimiter, KeyedLimiterStats
from meshkit.ratelimit.limiter import RateLimitBackend, RateLimiter, RateLimitRejected
from meshkit.ratelimit.options import (
    AlgorithmName,
    KeyFunction,
    PeriodName,
    Rate,
    RateLimitOptions,
    algorithm_factory,
    build_algorithm,
)
from meshkit.ratelimit.sliding_log import SlidingWindowLog
from meshkit.ratelimit.window import FixedWindow, SlidingWindowCounter

__all__ = [
    "GCRA",
    "AlgorithmName",
    "Decision",
    "FixedWindow",
    "KeyFunction",
    "KeyedLimiter",
    "KeyedLimiterStats",
    "PeriodName",
    "Rate",
    "RateLimitAlgorithm",
    "RateLimitBackend",
    "RateLimitOptions",
    "RateLimitRejected",
    "RateLimiter",
    "SlidingWindowCounter",
    "SlidingWindowLog",
    "TokenBucket",
    "algorithm_factory",
    "build_algorithm",
]
