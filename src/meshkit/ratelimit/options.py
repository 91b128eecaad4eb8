"""Rate-limit options: the rate (``"100/minute"``), the algorithm, and the factory.

One :class:`Rate` means the same thing to every algorithm: ``limit`` units per ``period``.
The window algorithms count ``limit`` units per ``period``-second window; the token bucket and
GCRA refill ``limit / period`` units per second and hold ``burst`` units (``limit`` unless
told otherwise), so a full bucket lets a client spend one period's worth at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from meshkit import _validate
from meshkit.errors import ConfigError
from meshkit.ratelimit.algorithm import RateLimitAlgorithm
from meshkit.ratelimit.bucket import GCRA, TokenBucket
from meshkit.ratelimit.sliding_log import SlidingWindowLog
from meshkit.ratelimit.window import FixedWindow, SlidingWindowCounter

__all__ = [
    "DEFAULT_MAX_KEYS",
    "AlgorithmName",
    "KeyFunction",
    "PeriodName",
    "Rate",
    "RateLimitOptions",
    "algorithm_factory",
    "build_algorithm",
]

AlgorithmName = Literal["token_bucket", "gcra", "sliding_log", "sliding_window", "fixed_window"]
PeriodName = Literal["second", "minute", "hour", "day"]
KeyFunction = Callable[..., Hashable]
"""Called with the guarded call's arguments; returns the key the limit is counted under."""

ALGORITHMS: tuple[AlgorithmName, ...] = get_args(AlgorithmName)
PERIOD_SECONDS: dict[str, float] = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}

# One entry per key costs a few hundred bytes with its algorithm; ten thousand keys stay in the
# low megabytes. A key is only evicted after ten thousand others were used since its last call,
# so the clients that matter (busy ones) keep their state.
DEFAULT_MAX_KEYS = 10_000

_UNITS: dict[str, str] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "second"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "minute"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hour"),
    **dict.fromkeys(("d", "day", "days"), "day"),
}
_RATE = re.compile(
    r"\s*(?P<limit>\d+)\s*(?:/|per\s)\s*"
    r"(?P<count>\d+(?:\.\d*)?(?:e[-+]?\d+)?)?\s*(?P<unit>[a-z]+)?\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    """``limit`` units per ``period`` — a period name (``"minute"``) or seconds (``30.0``).

    >>> Rate.parse("100/minute") == Rate(limit=100, period="minute")
    True
    >>> Rate.parse("5/30s").seconds
    30.0
    """

    limit: int
    period: PeriodName | float = "second"

    def __post_init__(self) -> None:
        _validate.integer("limit", self.limit, 1)
        if isinstance(self.period, str):
            _validate.one_of("period", self.period, PERIOD_SECONDS)
        else:
            _validate.finite_positive("period", self.period)

    @property
    def seconds(self) -> float:
        """The period in seconds."""
        period = self.period
        return PERIOD_SECONDS[period] if isinstance(period, str) else float(period)

    @property
    def per_second(self) -> float:
        """Units per second: ``limit / seconds``."""
        return self.limit / self.seconds

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Read ``"<limit>/<period>"``: ``"100/minute"``, ``"10/s"``, ``"5/30s"``,
        ``"1000/1.5 hours"``, ``"3/2.5"`` (seconds), ``"100 per day"``."""
        match = _RATE.fullmatch(text) if isinstance(text, str) else None
        if match is None or (match["count"] is None and match["unit"] is None):
            raise ConfigError(
                f"rate must look like '100/minute', '10/s' or '5/30s', got {text!r}",
                option="rate",
            )
        unit = match["unit"]
        name = "second" if unit is None else _UNITS.get(unit.lower())
        if name is None:
            choices = "s, m, h, d or second, minute, hour, day"
            raise ConfigError(f"rate unit must be one of {choices}; got {text!r}", option="rate")
        limit = int(match["limit"])
        if match["count"] is None:
            return cls(limit=limit, period=name)  # type: ignore[arg-type]  # a PeriodName
        return cls(limit=limit, period=float(match["count"]) * PERIOD_SECONDS[name])

    def __str__(self) -> str:
        """The text :meth:`parse` reads back: ``"100/minute"``, ``"5/30s"``, ``"1/2.5s"``."""
        period = self.period
        if isinstance(period, str):
            return f"{self.limit}/{period}"
        seconds = repr(float(period))  # every digit, so parse(str(rate)) == rate
        return f"{self.limit}/{seconds.removesuffix('.0')}s"


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitOptions:
    """How a :class:`~meshkit.ratelimit.limiter.RateLimiter` limits calls.

    ``rate``: a :class:`Rate` (``Rate.parse("100/minute")``); ``algorithm``: one of
    ``token_bucket`` (default), ``gcra``, ``sliding_log``, ``sliding_window`` (Cloudflare's
    counter), ``fixed_window``; ``burst``: bucket capacity for ``token_bucket``/``gcra``
    (default ``rate.limit``; the window algorithms take none); ``max_wait``: seconds a call may
    wait for capacity before being refused (0: refuse at once); ``key``: a function of the
    call's arguments naming who is limited (per user, per IP, ...) — one limit for all calls
    when ``None``; ``max_keys``: how many keys are remembered before the least recently used
    is forgotten.
    """

    rate: Rate
    algorithm: AlgorithmName = "token_bucket"
    burst: int | None = None
    max_wait: float = 0.0
    key: KeyFunction | None = None
    max_keys: int = DEFAULT_MAX_KEYS

    def __post_init__(self) -> None:
        if not isinstance(self.rate, Rate):
            raise ConfigError(
                f"rate must be a Rate (see Rate.parse), got {self.rate!r}", option="rate"
            )
        _validate.one_of("algorithm", self.algorithm, ALGORITHMS)
        if self.burst is not None:
            if self.algorithm not in ("token_bucket", "gcra"):
                raise ConfigError(
                    f"burst applies to token_bucket and gcra only, not {self.algorithm!r}",
                    option="burst",
                )
            _validate.integer("burst", self.burst, 1)
        _validate.between("max_wait", self.max_wait, 0.0, math.inf)
        if self.key is not None and not callable(self.key):
            raise ConfigError(f"key must be callable, got {self.key!r}", option="key")
        _validate.integer("max_keys", self.max_keys, 1)

    @property
    def capacity(self) -> int:
        """The most units admitted at once: ``burst`` for the buckets, else ``rate.limit``."""
        return self.burst if self.burst is not None else self.rate.limit


def algorithm_factory(options: RateLimitOptions) -> Callable[[], RateLimitAlgorithm]:
    """A maker of fresh algorithm instances as ``options`` describe (one per key)."""
    rate = options.rate
    algorithm: Any  # one of the five classes; each satisfies RateLimitAlgorithm
    if options.algorithm in ("token_bucket", "gcra"):
        algorithm = TokenBucket if options.algorithm == "token_bucket" else GCRA
        per_second, burst = rate.per_second, options.capacity
        return lambda: algorithm(rate=per_second, burst=burst)
    algorithm = {
        "sliding_log": SlidingWindowLog,
        "sliding_window": SlidingWindowCounter,
        "fixed_window": FixedWindow,
    }[options.algorithm]
    limit, window = rate.limit, rate.seconds
    return lambda: algorithm(limit=limit, window=window)


def build_algorithm(options: RateLimitOptions) -> RateLimitAlgorithm:
    """One algorithm instance as ``options`` describe."""
    return algorithm_factory(options)()
