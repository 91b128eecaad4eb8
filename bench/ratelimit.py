"""µs per rate-limit decision: meshkit's local algorithms and Redis backend against `limits`.

Measured in one process, one run, rounds alternating between contenders (the median counts):

* local — meshkit ``TokenBucket.acquire(now)`` and ``GCRA.acquire(now)`` on a rising ``now``,
  and the ``RateLimiter.try_acquire`` path (which reads the clock itself), against `limits`
  ``MemoryStorage`` with ``FixedWindowRateLimiter`` (``limits_local_us``: its cheapest
  strategy and, like a bucket, O(1) state per key, so the ratio compares per-decision overhead
  rather than data structures) and ``SlidingWindowCounterRateLimiter`` (extra);
* Redis — meshkit ``RedisRateLimiter`` (token bucket; GCRA extra) against `limits`
  ``limits.aio.storage.RedisStorage("async+redis://...", implementation="redispy")`` with the
  async ``FixedWindowRateLimiter`` (``limits_redis_us``; moving window and sliding window
  counter extra); N sequential decisions each, every contender on one connection of its own.

Limits are set far above what the run reaches, so every decision is an admission. Round trips
per decision come from ``INFO commandstats``: the calls of every command between two
snapshots, minus the ``INFO`` itself, divided by the decisions made (another client using the
same Redis meanwhile would inflate it, never deflate it).

Run: ``.venv/bin/python bench/ratelimit.py [--calls N] [--redis-calls N] [--rounds R]``.
Needs Redis at ``REDIS_URL`` (default redis://127.0.0.1:6379); exits 2 when unreachable.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
    uvloop = None

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
BIG_RATE = 1e9  # per second: far above any rate this loop reaches, so all are admitted
BIG_BURST = 1_000_000_000

LocalRun = Callable[[int], None]
RedisRun = Callable[[int], Awaitable[None]]


# -- local -----------------------------------------------------------------------------------


def meshkit_local() -> dict[str, LocalRun]:
    from meshkit.ratelimit import GCRA, Rate, RateLimiter, RateLimitOptions, TokenBucket

    def pure(limiter: Any) -> LocalRun:
        acquire = limiter.acquire
        state = {"now": 0.0}

        def run(calls: int) -> None:
            now = state["now"]
            for _ in range(calls):
                now += 1e-6
                acquire(now)
            state["now"] = now

        return run

    options = RateLimitOptions(rate=Rate(limit=int(BIG_RATE)), burst=BIG_BURST)
    policy = RateLimiter(options)

    def through_policy(calls: int) -> None:
        try_acquire = policy.try_acquire
        for _ in range(calls):
            try_acquire()

    return {
        "local": pure(TokenBucket(rate=BIG_RATE, burst=BIG_BURST)),
        "gcra": pure(GCRA(rate=BIG_RATE, burst=BIG_BURST)),
        "try_acquire": through_policy,
    }


def limits_local() -> dict[str, LocalRun]:
    from limits import RateLimitItemPerSecond
    from limits.storage import MemoryStorage
    from limits.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter

    item = RateLimitItemPerSecond(BIG_BURST)

    def run_with(strategy: Any) -> LocalRun:
        hit = strategy.hit

        def run(calls: int) -> None:
            for _ in range(calls):
                hit(item, "bench")

        return run

    return {
        "limits_local": run_with(FixedWindowRateLimiter(MemoryStorage())),
        "limits_sliding_local": run_with(SlidingWindowCounterRateLimiter(MemoryStorage())),
    }


def time_local(run: LocalRun, calls: int) -> float:
    start = time.perf_counter()
    run(calls)
    return (time.perf_counter() - start) / calls * 1e6


def measure_local(calls: int, rounds: int) -> dict[str, float]:
    contenders = {**meshkit_local(), **limits_local()}
    for run in contenders.values():
        run(min(calls, 5_000))  # warm up
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            samples[name].append(time_local(run, calls))
    return {f"{name}_us": statistics.median(values) for name, values in samples.items()}


# -- Redis -----------------------------------------------------------------------------------


async def meshkit_redis(namespace: str) -> tuple[dict[str, RedisRun], list[Any]]:
    from redis.asyncio import Redis

    from meshkit.ratelimit.redis import RedisRateLimiter, RedisRateLimitOptions

    runs: dict[str, RedisRun] = {}
    closers: list[Any] = []
    for name, algorithm in (("redis", "token_bucket"), ("redis_gcra", "gcra")):
        # A plain client, as `limits` makes for itself: both sides on equal footing.
        client = Redis.from_url(REDIS_URL, client_name=f"{namespace}:{name}")
        options = RedisRateLimitOptions(
            algorithm=algorithm, rate=BIG_RATE, burst=BIG_BURST, namespace=namespace
        )
        limiter = RedisRateLimiter(client, options)
        runs[name] = _meshkit_run(limiter)
        closers += [limiter.aclose, client.aclose]
    return runs, closers


def _meshkit_run(limiter: Any) -> RedisRun:
    async def run(calls: int) -> None:
        decide = limiter.decide
        for _ in range(calls):
            await decide("bench")

    return run


async def limits_redis(namespace: str) -> tuple[dict[str, RedisRun], list[Any]]:
    from limits import RateLimitItemPerSecond
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import (
        FixedWindowRateLimiter,
        MovingWindowRateLimiter,
        SlidingWindowCounterRateLimiter,
    )

    url = "async+" + REDIS_URL
    # The moving window keeps one list entry per admitted hit, so its limit only needs to
    # exceed the hits of one run; a billion would make Redis trim nothing and grow forever.
    moving_item = RateLimitItemPerSecond(1_000_000, 3600)
    big_item = RateLimitItemPerSecond(BIG_BURST)
    contenders = {
        "limits_redis": (FixedWindowRateLimiter, big_item),
        "limits_moving_redis": (MovingWindowRateLimiter, moving_item),
        "limits_sliding_redis": (SlidingWindowCounterRateLimiter, big_item),
    }
    runs: dict[str, RedisRun] = {}
    closers: list[Any] = []
    for name, (strategy_type, item) in contenders.items():
        storage = RedisStorage(
            url, implementation="redispy", key_prefix=namespace, client_name=f"{namespace}:{name}"
        )
        strategy = strategy_type(storage)
        runs[name] = _limits_run(strategy, item)
        closers.append(storage.bridge.get_connection().aclose)
    return runs, closers


def _limits_run(strategy: Any, item: Any) -> RedisRun:
    async def run(calls: int) -> None:
        hit = strategy.hit
        for _ in range(calls):
            await hit(item, "bench")

    return run


async def time_redis(run: RedisRun, calls: int) -> float:
    start = time.perf_counter()
    await run(calls)
    return (time.perf_counter() - start) / calls * 1e6


async def command_calls(admin: Any) -> dict[str, int]:
    stats = await admin.info("commandstats")
    return {name: int(fields["calls"]) for name, fields in stats.items()}


async def count_commands(
    admin: Any, client_name: str, run: RedisRun, calls: int
) -> dict[str, float]:
    """Per decision: ``roundtrips``, the commands the contender's own connections sent (seen
    by MONITOR, which labels commands run inside a script ``lua``), and ``commandstats``, the
    calls of every command between two ``INFO commandstats`` snapshots minus the ``INFO``
    itself — which also counts each command a script runs inside Redis."""
    addresses = {c["addr"] for c in await admin.client_list() if c.get("name") == client_name}
    marker = f"end-of-count-{uuid.uuid4().hex}"
    sent = 0
    async with admin.monitor() as monitor:
        before = await command_calls(admin)
        await run(calls)
        after = await command_calls(admin)
        await admin.echo(marker)
        async for entry in monitor.listen():
            if marker in entry["command"]:
                break
            address = f"{entry['client_address']}:{entry['client_port']}"
            if entry["client_type"] != "lua" and address in addresses:
                sent += 1
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    delta.pop("cmdstat_info", None)  # the snapshot itself is not the contender's
    return {"roundtrips": sent / calls, "commandstats": sum(delta.values()) / calls}


async def measure_redis(calls: int, rounds: int) -> dict[str, float]:
    from redis.asyncio import Redis

    namespace = f"meshkit-bench:{uuid.uuid4().hex[:8]}"
    admin = Redis.from_url(REDIS_URL)
    ours, our_closers = await meshkit_redis(namespace)
    theirs, their_closers = await limits_redis(namespace)
    contenders = {**ours, **theirs}
    try:
        for run in contenders.values():  # warm up: connect, load scripts
            await run(200)
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, run in contenders.items():
                samples[name].append(await time_redis(run, calls))
        result = {f"{name}_us": statistics.median(values) for name, values in samples.items()}
        for name in ("redis", "limits_redis"):
            counts = await count_commands(admin, f"{namespace}:{name}", contenders[name], calls)
            result[f"{name}_roundtrips_per_decision"] = counts["roundtrips"]
            result[f"{name}_commandstats_calls_per_decision"] = counts["commandstats"]
        return result
    finally:
        keys = [key async for key in admin.scan_iter(match=f"*{namespace}*")]
        if keys:
            await admin.delete(*keys)
        for close in our_closers + their_closers:
            await close()
        await admin.aclose()


async def redis_reachable() -> str | None:
    """None when Redis answers, else why not."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        await asyncio.wait_for(client.ping(), 3)
    except Exception as exc:  # any failure means the Redis half cannot run
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()
    return None


# -- report ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="local decisions per round")
    parser.add_argument("--redis-calls", type=int, default=3_000, help="Redis ones per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    loop_name = "uvloop" if uvloop is not None else "asyncio"
    runner = uvloop.run if uvloop is not None else asyncio.run
    if (why := runner(redis_reachable())) is not None:
        print(f"Redis at {REDIS_URL} is unreachable ({why}); start it or set REDIS_URL.")
        return 2

    result = measure_local(args.calls, args.rounds)
    result.update(runner(measure_redis(args.redis_calls, args.rounds)))

    print(f"event loop: {loop_name} (Redis parts); python {sys.version.split()[0]}; {REDIS_URL}")
    print(f"{'contender':<32} {'µs/decision':>12}")
    for name, value in result.items():
        if name.endswith("_us"):
            print(f"{name.removesuffix('_us'):<32} {value:>12.3f}")
    checks = {
        "redis_roundtrips_per_decision <= 1.0": result["redis_roundtrips_per_decision"] <= 1.0,
        "local_us < limits_local_us": result["local_us"] < result["limits_local_us"],
        "redis_us < limits_redis_us": result["redis_us"] < result["limits_redis_us"],
    }
    print(
        "Redis round trips per decision (commands the contender sent, by MONITOR):"
        f" meshkit {result['redis_roundtrips_per_decision']:.3f},"
        f" limits {result['limits_redis_roundtrips_per_decision']:.3f}"
    )
    print(
        "INFO commandstats calls per decision (script-internal commands included):"
        f" meshkit {result['redis_commandstats_calls_per_decision']:.3f},"
        f" limits {result['limits_redis_commandstats_calls_per_decision']:.3f}"
    )
    print(
        f"local: meshkit / limits = {result['local_us'] / result['limits_local_us']:.3f};"
        f" Redis: meshkit / limits = {result['redis_us'] / result['limits_redis_us']:.3f}"
    )
    for check, ok in checks.items():
        print(f"{'meets' if ok else 'MISSES'}: {check}")
    summary: dict[str, Any] = {key: round(value, 3) for key, value in result.items()}
    summary.update(
        loop=loop_name,
        limits_strategy="FixedWindowRateLimiter",
        calls=args.calls,
        redis_calls=args.redis_calls,
        rounds=args.rounds,
    )
    print(json.dumps(summary))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
