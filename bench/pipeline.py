"""µs per successful call: a bare await, meshkit's pipeline, and the hand-assembled stack.

The three are measured in one process, one run, on the same event loop implementation:

* ``bare``: ``await work()``;
* ``meshkit``: bulkhead → total timeout → token-bucket rate limit → retry (with budget)
  → circuit breaker → call, built with ``Pipeline.default`` and used as a decorator;
* ``hand_stack``: what a Python user assembles today in the same order —
  ``asyncio.Semaphore`` → ``asyncio.timeout`` → aiolimiter → tenacity → aiobreaker → call.

The rate limits are set far above what the run can reach, so every call is a success and no
path sleeps. Rounds alternate between the contenders; the median round counts.

Run: ``.venv/bin/python bench/pipeline.py [--calls N] [--rounds R]``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
    uvloop = None

from meshkit.ratelimit import Rate, RateLimiter, RateLimitOptions
from meshkit.resilience import (
    Bulkhead,
    BulkheadOptions,
    CircuitBreaker,
    CircuitBreakerOptions,
    Pipeline,
    Retry,
    RetryBudget,
    RetryOptions,
    Timeout,
    TimeoutOptions,
)

REQUIRED_RATIO = 0.15


async def work() -> int:
    return 1


def meshkit_call() -> Callable[[], Awaitable[int]]:
    pipeline = Pipeline.default(
        Bulkhead(BulkheadOptions(max_concurrent=100, max_queued=100)),
        Timeout(TimeoutOptions(seconds=5.0)),
        RateLimiter(RateLimitOptions(rate=Rate(limit=1_000_000_000), burst=1_000_000)),
        Retry(RetryOptions(max_attempts=3, budget=RetryBudget())),
        CircuitBreaker(CircuitBreakerOptions()),
    )
    return pipeline(work)


def hand_stack_call() -> Callable[[], Awaitable[int]]:
    from aiobreaker import CircuitBreaker as AioBreaker
    from aiolimiter import AsyncLimiter
    from tenacity import retry, stop_after_attempt, wait_exponential

    semaphore = asyncio.Semaphore(100)
    limiter = AsyncLimiter(max_rate=1e9, time_period=1)
    breaker = AioBreaker(fail_max=5, timeout_duration=timedelta(seconds=30))

    @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.1, max=2))
    async def retried() -> Any:
        return await breaker.call_async(work)

    async def call() -> int:
        async with semaphore, asyncio.timeout(5.0), limiter:
            result: int = await retried()
            return result

    return call


async def per_call_us(fn: Callable[[], Awaitable[int]], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - start) / calls * 1e6


async def measure(calls: int, rounds: int) -> dict[str, float]:
    contenders = {"bare": work, "meshkit": meshkit_call(), "hand_stack": hand_stack_call()}
    for fn in contenders.values():  # warm up caches and lazily built state
        await per_call_us(fn, min(calls, 2_000))
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            samples[name].append(await per_call_us(fn, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    loop_name = "uvloop" if uvloop is not None else "asyncio"
    runner = uvloop.run if uvloop is not None else asyncio.run
    result = runner(measure(args.calls, args.rounds))
    ratio = result["meshkit"] / result["hand_stack"]
    print(f"event loop: {loop_name}; python {sys.version.split()[0]}")
    print(f"{'contender':<12} {'µs/call':>9}")
    for name, value in result.items():
        print(f"{name:<12} {value:>9.2f}")
    verdict = "meets" if ratio <= REQUIRED_RATIO else "MISSES"
    print(f"meshkit / hand stack = {ratio:.3f} ({verdict} the required <= {REQUIRED_RATIO})")
    print(
        json.dumps(
            {
                "bare_us": round(result["bare"], 3),
                "meshkit_us": round(result["meshkit"], 3),
                "hand_stack_us": round(result["hand_stack"], 3),
                "ratio_vs_hand_stack": round(ratio, 4),
                "loop": loop_name,
                "calls": args.calls,
                "rounds": args.rounds,
            }
        )
    )
    return 0 if ratio <= REQUIRED_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
