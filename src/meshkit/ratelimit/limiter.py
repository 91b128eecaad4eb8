"""The rate-limit policy: ask the limiter, then run the call, wait a little, or refuse.

A :class:`RateLimiter` decides with one of three things:

* one algorithm instance — one limit shared by every call (no ``key``);
* a :class:`~meshkit.ratelimit.keyed.KeyedLimiter` — a limit per key, the key computed from
  each call's arguments by ``options.key``;
* an async backend with ``async def decide(key: str, cost: int) -> Decision`` — a limit
  shared by several processes, such as :class:`~meshkit.ratelimit.redis.RedisRateLimiter`.

The local two decide synchronously: the success path reads the clock once, calls the
algorithm, and awaits nothing but the call itself. A refused call waits when
``options.max_wait`` allows it: it sleeps ``retry_after`` on the injected clock and asks again
(another caller may have taken the capacity meanwhile), never sleeping past ``max_wait`` in
total and never starting a sleep that would end past it. Waiters hold no reservation, so
under contention the limit stays exact but the order of waiters is not first come, first
served. Otherwise the call is refused with :class:`~meshkit.errors.RateLimited`, whose
``retry_after`` comes from the decision and whose ``decision`` attribute is the decision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import ConfigError, RateLimited
from meshkit.events import EventBus
from meshkit.ratelimit._decision import Decision
from meshkit.ratelimit.algorithm import RateLimitAlgorithm
from meshkit.ratelimit.keyed import KeyedLimiter
from meshkit.ratelimit.limiter_types import RateLimitBackend, RateLimitRejected
from meshkit.ratelimit.options import RateLimitOptions, build_algorithm
from meshkit.resilience._policy import PolicyKind

__all__ = ["RateLimitBackend", "RateLimitRejected", "RateLimiter"]

T = TypeVar("T")

_MIN_PAUSE = 1e-6
"""Shortest wait between two decisions: a retry_after rounded down to nothing must not spin."""


class RateLimiter:
    """Limit how often calls run; refuse (or briefly delay) the calls over the limit.

    By default the limiter is built from ``options``: a :class:`KeyedLimiter` when
    ``options.key`` is set, else one algorithm instance. Pass ``limiter`` to decide with
    something else — an algorithm, a ``KeyedLimiter`` or an async backend; ``options`` then
    contributes only ``key`` and ``max_wait`` (the backend carries its own rate).
    """

    __slots__ = (
        "_acquire",
        "_admit",
        "_backend",
        "_clock",
        "_events",
        "_key",
        "_keyed",
        "_max_wait",
        "_monotonic",
        "_name",
        "_peek",
        "limiter",
        "options",
    )

    def __init__(
        self,
        options: RateLimitOptions,
        *,
        limiter: RateLimitAlgorithm | KeyedLimiter | RateLimitBackend | None = None,
        name: str = "rate_limit",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.options = options
        self._key = options.key
        self._max_wait = options.max_wait
        self._name = name
        self._clock = clock
        self._monotonic = clock.monotonic
        self._events = events
        if limiter is None:
            keyed = options.key is not None
            limiter = KeyedLimiter.from_options(options) if keyed else build_algorithm(options)
        self.limiter = limiter
        # Exactly one of the three is set; the hot path tests them in this order.
        self._acquire: Callable[[float, int], Decision] | None = None
        # the same algorithm's admit and peek, when it has them (see try_admit)
        self._admit: Callable[[float, int], bool] | None = None
        self._peek: Callable[[float, int], Decision] | None = None
        self._keyed: KeyedLimiter | None = None
        self._backend: RateLimitBackend | None = None
        if isinstance(limiter, KeyedLimiter):
            self._keyed = limiter
        elif isinstance(limiter, RateLimitAlgorithm):
            if options.key is not None:
                raise ConfigError(
                    "key needs a KeyedLimiter or a backend: one algorithm instance is one "
                    "limit for every key",
                    option="key",
                )
            self._acquire = limiter.acquire
            admit = getattr(limiter, "admit", None)
            if callable(admit):
                self._admit, self._peek = admit, limiter.peek
        elif isinstance(limiter, RateLimitBackend):
            self._backend = limiter
        else:
            raise ConfigError(
                "limiter must be a RateLimitAlgorithm, a KeyedLimiter or an object with "
                f"'async def decide(key, cost)', got {limiter!r}",
                option="limiter",
            )

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.RATE_LIMIT

    # -- deciding --------------------------------------------------------------------------
    def try_acquire(self, key: Hashable = None, cost: int = 1) -> Decision:
        """Decide now, without waiting (local limiters only)."""
        decision = self._decide_local(key, cost)
        if not decision.allowed:
            self._emit(key, cost, decision)
        return decision

    def try_admit(self, key: Hashable = None, cost: int = 1) -> Decision | None:
        """``try_acquire`` for a caller that needs the decision only when it refuses (a
        proxy's 429): ``None`` when the request may go, the refusal otherwise. With the
        token bucket or GCRA no decision is built on the way through."""
        keyed = self._keyed
        if self._admit is not None and self._peek is not None:
            now = self._monotonic()
            if self._admit(now, cost):
                return None
            decision = self._peek(now, cost)  # at the same now: the refusal admit made
        elif keyed is not None and keyed.admits:
            now = self._monotonic()
            if keyed.admit(key, now, cost):
                return None
            decision = keyed.peek(key, now, cost)
        else:
            decision = self._decide_local(key, cost)
            if decision.allowed:
                return None
        self._emit(key, cost, decision)
        return decision

    async def acquire(
        self, key: Hashable = None, cost: int = 1, max_wait: float | None = None
    ) -> Decision:
        """Decide, waiting up to ``max_wait`` seconds (default ``options.max_wait``) for
        capacity; return the final decision (refused if the wait could not help)."""
        if self._backend is None:
            decision = self._decide_local(key, cost)
        else:
            decision = await self._backend.decide(_backend_key(key), cost)
        if decision.allowed:
            return decision
        return await self._settle(
            key, cost, decision, self._max_wait if max_wait is None else max_wait
        )

    # -- the policy ------------------------------------------------------------------------
    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        acquire = self._acquire
        if acquire is not None:
            decision = acquire(self._monotonic(), 1)
            if decision.allowed:
                return await fn(*args, **kwargs)
            key: Hashable = None
        else:
            key_fn = self._key
            key = None if key_fn is None else key_fn(*args, **kwargs)
            keyed = self._keyed
            if keyed is not None:
                decision = keyed.acquire(key, self._monotonic(), 1)
            else:
                backend = self._backend
                assert backend is not None  # exactly one of the three deciders is set
                decision = await backend.decide(_backend_key(key), 1)
            if decision.allowed:
                return await fn(*args, **kwargs)
        decision = await self._settle(key, 1, decision, self._max_wait)
        if not decision.allowed:
            raise self._refusal(decision)
        return await fn(*args, **kwargs)

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        key_fn = self._key
        key = None if key_fn is None else key_fn(*args, **kwargs)
        decision = self._decide_local(key, 1)
        if not decision.allowed:
            if self._max_wait > 0:
                decision = self._wait_sync(key, 1, decision, self._max_wait)
            if not decision.allowed:
                self._emit(key, 1, decision)
                raise self._refusal(decision)
        return fn(*args, **kwargs)

    # -- internals -------------------------------------------------------------------------
    def _decide_local(self, key: Hashable, cost: int) -> Decision:
        if self._acquire is not None:
            return self._acquire(self._monotonic(), cost)
        if self._keyed is not None:
            return self._keyed.acquire(key, self._monotonic(), cost)
        raise TypeError(
            f"{self._name}: an async backend decides; use 'await execute()' or "
            "'await acquire()' rather than the synchronous entry points"
        )

    async def _settle(self, key: Hashable, cost: int, decision: Decision, wait: float) -> Decision:
        """After a refusal: wait for capacity if ``wait`` allows; report a final refusal."""
        if wait > 0:
            decision = await self._wait(key, cost, decision, wait)
        if not decision.allowed:
            self._emit(key, cost, decision)
        return decision

    async def _wait(self, key: Hashable, cost: int, decision: Decision, wait: float) -> Decision:
        monotonic = self._monotonic
        deadline = monotonic() + wait
        backend = self._backend
        while not decision.allowed:
            pause = max(decision.retry_after, _MIN_PAUSE)
            if pause > deadline - monotonic():  # includes inf: waiting cannot help
                break
            await self._clock.sleep(pause)
            if backend is None:
                decision = self._decide_local(key, cost)
            else:
                decision = await backend.decide(_backend_key(key), cost)
        return decision

    def _wait_sync(self, key: Hashable, cost: int, decision: Decision, wait: float) -> Decision:
        monotonic = self._monotonic
        deadline = monotonic() + wait
        while not decision.allowed:
            pause = max(decision.retry_after, _MIN_PAUSE)
            if pause > deadline - monotonic():
                break
            self._clock.sleep_sync(pause)
            decision = self._decide_local(key, cost)
        return decision

    def _refusal(self, decision: Decision) -> RateLimited:
        error = RateLimited(
            f"{self._name}: rate limit exceeded (retry after {decision.retry_after:.3g}s)",
            retry_after=decision.retry_after,
            policy=self._name,
        )
        # RateLimited is shared by every limiter and does not declare it; set it here.
        setattr(error, "decision", decision)  # noqa: B010
        return error

    def _emit(self, key: Hashable, cost: int, decision: Decision) -> None:
        events = self._events
        if events is not None and events.active:
            events.publish(
                RateLimitRejected(
                    source=self._name,
                    at=self._clock.time(),
                    key=None if key is None else str(key),
                    cost=cost,
                    limit=decision.limit,
                    remaining=decision.remaining,
                    retry_after=decision.retry_after,
                )
            )

    def __repr__(self) -> str:
        return f"RateLimiter({self.limiter!r}, name={self._name!r})"


def _backend_key(key: Hashable) -> str:
    """Backends store limits under text keys; ``""`` is the key of an unkeyed limit."""
    if key is None:
        return ""
    return key if isinstance(key, str) else str(key)
