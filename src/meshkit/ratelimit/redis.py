"""A rate limit shared by every node, kept in Redis.

Theory of operation
-------------------
``decide(key, cost)`` costs exactly one round trip: an ``EVALSHA`` of the algorithm's Lua
script (see :mod:`meshkit.ratelimit.redis_scripts`), which reads Redis' own clock, decides
and stores the new state atomically. If Redis answers ``NOSCRIPT`` (restart, failover,
``SCRIPT FLUSH``), the same call sends the script itself with ``EVAL``, which also caches it
again, and carries on.

Redis can be slow, hung or gone, and a rate-limit check must never hold a request hostage, so
every round trip is bounded by ``timeout``. Two bounds cooperate: the socket timeouts of a
client made by :meth:`RedisRateLimiter.from_url` (an injected client keeps whatever its owner
chose), and, always, a timer on the injected clock that cancels the round trip — the one bound
that also covers connecting, redis-py's own retries and a server that accepts but never
answers. The timer's cancellation is told apart from the caller's with ``Task.uncancel()``
(as ``asyncio.timeout`` does), so a caller who cancels is never answered with a decision.

The exchange itself runs on a connection borrowed through
:class:`~meshkit.ratelimit._redis_lease.ConnectionLease` rather than ``execute_command``: same
pool, same connections, without redis-py's per-command pool bookkeeping and retry wrapper
(its retries back off, landing after the deadline; the one retry worth making is below).

A connection closed under the limiter (a Redis restart or failover, an idle connection
dropped by Redis' ``timeout`` or ``CLIENT KILL``) fails its next use; that exchange is tried
once more, at once and within the same deadline, on a connection the pool has checked, so one
stale socket does not pass for an outage. A timeout is never tried again: it spent the budget.

When the round trip fails, the limiter answers by its declared ``failure_mode``: ``"open"``
allows, ``"closed"`` denies with ``retry_after = closed_retry_after``, ``"local"`` decides with
an in-process :class:`TokenBucket` / :class:`GCRA` per key (each node then enforces the full
rate on its own). For ``cooldown`` seconds after a failure it does not try Redis at all, so an
outage costs one timeout per cooldown rather than one per request; the first decision after
the cooldown probes Redis again. ``RateLimitBackendFailed`` and ``RateLimitBackendRecovered``
are published once per change of state, never per request.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.events import EventBus
from meshkit.ratelimit._decision import Decision
from meshkit.ratelimit._redis_lease import ConnectionLease
from meshkit.ratelimit.redis_options import (
    RateLimitBackendFailed,
    RateLimitBackendRecovered,
    RedisRateLimiterStats,
    RedisRateLimitOptions,
)
from meshkit.ratelimit.redis_scripts import SCRIPTS

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "RateLimitBackendFailed",
    "RateLimitBackendRecovered",
    "RedisRateLimitOptions",
    "RedisRateLimiter",
    "RedisRateLimiterStats",
]


class _LocalLimiter(Protocol):
    def acquire(self, now: float, cost: int = 1) -> Decision: ...


class _Expiry:
    """Cancels the deciding task when the timeout passes, remembering that it did."""

    __slots__ = ("baseline", "fired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.baseline = task.cancelling()  # cancellations already requested belong to others
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        self.task.cancel()


class RedisRateLimiter:
    """Rate limits shared through Redis; ``await decide(key, cost)`` is one round trip.

    The ``client`` must be a ``redis.asyncio.Redis`` (not a cluster client); it may decode
    responses or not.
    Use :meth:`from_url` to get a client whose socket timeouts and retries fit ``timeout``.
    """

    def __init__(
        self,
        client: Redis,
        options: RedisRateLimitOptions,
        *,
        name: str = "redis_ratelimit",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        # Imported here so that ``import meshkit`` works without the optional redis extra.
        from redis.exceptions import BusyLoadingError, NoScriptError, RedisError
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.options = options
        self._client = client
        self._lease = ConnectionLease(client.connection_pool)
        self._backend_errors = (RedisError, OSError)  # OSError covers TimeoutError too
        # What a connection Redis closed while it sat idle raises on its next use; neither
        # kind is a timeout, so the deadline is not spent yet.
        self._closed_errors = (RedisConnectionError, ConnectionError)
        self._loading = BusyLoadingError  # an answer from Redis (still loading), not a closure
        self._no_script = NoScriptError
        self._owns_client = False
        self._name = name
        self._clock = clock
        self._events = events
        self._burst = options.burst
        self._timeout = options.timeout
        self._prefix = f"{options.namespace}:{options.algorithm}:"
        script = SCRIPTS[options.algorithm]
        self._script_source = script.source
        self._script_sha = script.sha
        # Encoded once: redis-py passes bytes through untouched; repr keeps every digit.
        self._rate_arg = repr(float(options.rate)).encode()
        self._burst_arg = str(options.burst).encode()
        self._local_factory = _local_factory(options) if options.failure_mode == "local" else None
        self._local: OrderedDict[str, _LocalLimiter] = OrderedDict()
        self._failing = False
        self._failed_at = 0.0
        self._retry_at = 0.0
        self._decisions = 0
        self._failures = 0
        self._fallbacks = 0
        self._script_loads = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        options: RedisRateLimitOptions,
        *,
        name: str = "redis_ratelimit",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> RedisRateLimiter:
        """A limiter with a client of its own (closed by :meth:`aclose`) whose connect and
        read timeouts equal ``options.timeout`` and which never retries: a retry could only
        land after the decision's deadline."""
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = Redis.from_url(
            url,
            socket_timeout=options.timeout,
            socket_connect_timeout=options.timeout,
            retry=Retry(NoBackoff(), 0),
        )
        limiter = cls(client, options, name=name, clock=clock, events=events)
        limiter._owns_client = True
        return limiter

    @property
    def name(self) -> str:
        return self._name

    @property
    def stats(self) -> RedisRateLimiterStats:
        return RedisRateLimiterStats(
            decisions=self._decisions,
            failures=self._failures,
            fallbacks=self._fallbacks,
            script_loads=self._script_loads,
            failing=self._failing,
        )

    def redis_key(self, key: str) -> str:
        """The Redis key holding ``key``'s state."""
        return self._prefix + key

    async def aclose(self) -> None:
        """Return kept connections to the pool; close the client if this limiter made it
        (:meth:`from_url`)."""
        await self._lease.aclose()
        if self._owns_client:
            await self._client.aclose()

    async def decide(self, key: str, cost: int = 1) -> Decision:
        """Charge ``cost`` units to ``key``; never raises because of Redis."""
        self._decisions += 1
        if cost > self._burst:  # can never pass: no need to ask Redis
            return Decision(False, self._burst, 0, 0.0, math.inf)
        if cost < 1:
            raise ValueError(f"cost must be >= 1, got {cost!r}")
        if self._failing and self._clock.monotonic() < self._retry_at:
            return self._fallback(key, cost)
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("RedisRateLimiter.decide() must run inside an asyncio task")
        expiry = _Expiry(task)
        timer = self._clock.call_later(self._timeout, expiry.fire)
        try:
            reply = await self._exchange(self._prefix + key, cost, expiry)
        except asyncio.CancelledError:
            if not expiry.fired or task.uncancel() > expiry.baseline:
                raise  # the caller's cancellation (too): it wins over our timeout
            return self._failed(key, cost, TimeoutError(f"no answer within {self._timeout:g}s"))
        except self._backend_errors as exc:
            if expiry.fired:  # the client turned our cancellation into an error of its own
                task.uncancel()
            return self._failed(key, cost, exc)
        finally:
            timer.cancel()
        if expiry.fired:  # the answer won the race against the timer; keep it
            task.uncancel()
        if self._failing:
            self._recovered()
        return Decision(reply[0] == 1, self._burst, reply[1], reply[2] / 1e6, reply[3] / 1e6)

    async def _exchange(self, redis_key: str, cost: int, expiry: _Expiry) -> list[int]:
        lease = self._lease
        connection = await lease.acquire()
        try:
            return await self._exchange_on(connection, redis_key, cost)
        except self._closed_errors as exc:
            if expiry.fired or isinstance(exc, self._loading):
                raise
        # The connection was closed under us: Redis restarted, failed over, or dropped it as
        # idle (its ``timeout``, ``CLIENT KILL``). A stale socket tells little about Redis
        # now, so one more try, at once and within the same deadline, on a connection the
        # pool has checked; only a second failure is an outage, worth a whole cooldown. Had
        # Redis run the first script before the close, the cost is charged twice: the limit
        # errs on the strict side, never the lax one.
        return await self._exchange_on(await lease.checked(), redis_key, cost)

    async def _exchange_on(self, connection: Any, redis_key: str, cost: int) -> list[int]:
        try:
            reply = await self._evaluate(connection, redis_key, cost)
        except BaseException:
            await self._lease.discard(connection)  # it may hold half a reply: never reuse it
            raise
        await self._lease.keep(connection)
        return reply

    async def _evaluate(self, connection: Any, redis_key: str, cost: int) -> list[int]:
        tail = (1, redis_key, self._rate_arg, self._burst_arg, cost)
        packed = connection.pack_command("EVALSHA", self._script_sha, *tail)
        await connection.send_packed_command(packed, check_health=False)
        try:
            reply: list[int] = await connection.read_response()
        except self._no_script:
            # Redis lost its script cache; EVAL runs the script and caches it again.
            self._script_loads += 1
            packed = connection.pack_command("EVAL", self._script_source, *tail)
            await connection.send_packed_command(packed, check_health=False)
            reply = await connection.read_response()
        return reply

    # -- failure handling ----------------------------------------------------------------------
    def _failed(self, key: str, cost: int, error: Exception) -> Decision:
        self._failures += 1
        now = self._clock.monotonic()
        self._retry_at = now + self.options.cooldown
        if not self._failing:
            self._failing = True
            self._failed_at = now
            events = self._events
            if events is not None and events.active:
                events.publish(
                    RateLimitBackendFailed(
                        source=self._name,
                        at=self._clock.time(),
                        error=f"{type(error).__name__}: {error}",
                        failure_mode=self.options.failure_mode,
                    )
                )
        return self._fallback(key, cost)

    def _recovered(self) -> None:
        self._failing = False
        self._local.clear()  # Redis is the truth again; local state would only go stale
        events = self._events
        if events is not None and events.active:
            events.publish(
                RateLimitBackendRecovered(
                    source=self._name,
                    at=self._clock.time(),
                    down_for=self._clock.monotonic() - self._failed_at,
                )
            )

    def _fallback(self, key: str, cost: int) -> Decision:
        self._fallbacks += 1
        mode = self.options.failure_mode
        if mode == "open":
            return Decision(True, self._burst, self._burst - cost, 0.0, 0.0)
        if mode == "closed":
            wait = self.options.closed_retry_after
            return Decision(False, self._burst, 0, wait, wait)
        return self._local_limiter(key).acquire(self._clock.monotonic(), cost)

    def _local_limiter(self, key: str) -> _LocalLimiter:
        local = self._local
        limiter = local.get(key)
        if limiter is not None:
            local.move_to_end(key)
            return limiter
        assert self._local_factory is not None  # set whenever failure_mode == "local"
        limiter = local[key] = self._local_factory()
        if len(local) > self.options.local_max_keys:
            local.popitem(last=False)
        return limiter

    def __repr__(self) -> str:
        o = self.options
        return (
            f"RedisRateLimiter(name={self._name!r}, algorithm={o.algorithm!r}, rate={o.rate!r}, "
            f"burst={o.burst!r}, failure_mode={o.failure_mode!r})"
        )


def _local_factory(options: RedisRateLimitOptions) -> Callable[[], _LocalLimiter]:
    """A maker of local limiters with the same algorithm, rate and burst as the shared one."""
    # Imported here: the local algorithms are only needed by limiters that fall back to them.
    from meshkit.ratelimit import GCRA, TokenBucket

    algorithm = GCRA if options.algorithm == "gcra" else TokenBucket
    rate, burst = options.rate, options.burst
    return lambda: algorithm(rate=rate, burst=burst)
