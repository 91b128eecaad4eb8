"""The options, events and counters of :class:`~meshkit.ratelimit.redis.RedisRateLimiter`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from meshkit import _validate
from meshkit.errors import ConfigError
from meshkit.events import Event
from meshkit.ratelimit.redis_scripts import SCRIPTS

__all__ = [
    "Algorithm",
    "FailureMode",
    "RateLimitBackendFailed",
    "RateLimitBackendRecovered",
    "RedisRateLimitOptions",
    "RedisRateLimiterStats",
]

Algorithm = Literal["token_bucket", "gcra"]
FailureMode = Literal["open", "closed", "local"]

# A shared limit is checked on every request: a check slower than a tenth of a second already
# costs more than most requests it guards, so past that the failure mode answers instead.
DEFAULT_TIMEOUT = 0.1
# Long enough that a dead Redis costs a handful of timeouts a minute, short enough that a
# recovered one is back in charge before anyone notices the fallback answers.
DEFAULT_COOLDOWN = 1.0
# What "closed" tells callers: Redis outages are rarely shorter, and clients should not hammer.
DEFAULT_CLOSED_RETRY_AFTER = 1.0
# Local fallback keeps one small limiter per key; bound the table so a key-spraying client
# during an outage cannot grow memory without limit (least recently used keys go first).
DEFAULT_LOCAL_MAX_KEYS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisRateLimitOptions:
    """How a Redis-backed limit behaves.

    ``rate``: units refilled per second; ``burst``: the most units admitted at once;
    ``algorithm``: ``"token_bucket"`` or ``"gcra"`` (same admissions, separate keys);
    ``namespace``: key prefix — keys are ``f"{namespace}:{algorithm}:{key}"``;
    ``failure_mode``: ``"open"`` (allow), ``"closed"`` (deny) or ``"local"`` (decide in
    process) when Redis fails; ``timeout``: seconds one decision may wait for Redis;
    ``cooldown``: seconds to answer by ``failure_mode`` without trying Redis after a failure
    (0 tries every time); ``closed_retry_after``: the ``retry_after`` of a closed denial;
    ``local_max_keys``: how many keys local fallback remembers.
    """

    rate: float
    burst: int
    algorithm: Algorithm = "token_bucket"
    namespace: str = "meshkit:rl"
    failure_mode: FailureMode = "open"
    timeout: float = DEFAULT_TIMEOUT
    cooldown: float = DEFAULT_COOLDOWN
    closed_retry_after: float = DEFAULT_CLOSED_RETRY_AFTER
    local_max_keys: int = DEFAULT_LOCAL_MAX_KEYS

    def __post_init__(self) -> None:
        _validate.finite_positive("rate", self.rate)
        _validate.integer("burst", self.burst, 1)
        _validate.one_of("algorithm", self.algorithm, SCRIPTS)
        if not isinstance(self.namespace, str) or not self.namespace:
            raise ConfigError(
                f"namespace must be a non-empty string, got {self.namespace!r}", option="namespace"
            )
        _validate.one_of("failure_mode", self.failure_mode, ("open", "closed", "local"))
        _validate.finite_positive("timeout", self.timeout)
        _validate.between("cooldown", self.cooldown, 0.0, math.inf)
        _validate.between("closed_retry_after", self.closed_retry_after, 0.0, math.inf)
        _validate.integer("local_max_keys", self.local_max_keys, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitBackendFailed(Event):
    """Redis stopped answering in time; decisions now follow ``failure_mode``."""

    error: str
    failure_mode: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitBackendRecovered(Event):
    """Redis answers again after ``down_for`` seconds; decisions are shared again."""

    down_for: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisRateLimiterStats:
    """Counters since construction: ``decisions`` made, round trips that ``failures`` ended,
    ``fallbacks`` answered by the failure mode, ``script_loads`` after ``NOSCRIPT``;
    ``failing`` tells whether the backend is currently considered down."""

    decisions: int
    failures: int
    fallbacks: int
    script_loads: int
    failing: bool
