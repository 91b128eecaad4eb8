"""Scene: a burst shaped by a rate limiter, and one greedy user kept from starving the others.

Forty requests arrive at the same instant at a limiter of 20/s with a burst of 5 that lets a
request wait up to 1 s. The bucket's five tokens go at once; the rest are spread out at the
refill rate until waiting longer would pass the 1 s allowance, and those are refused with a
``retry_after`` a client can honour. Then a per-user limit shows that one user's flood spends
only that user's quota.
"""

from __future__ import annotations

import asyncio
import math

from meshkit.clock import Clock
from meshkit.demo.tables import heading, table
from meshkit.errors import RateLimited
from meshkit.ratelimit import Rate, RateLimiter, RateLimitOptions

__all__ = ["run"]

BURST_SIZE = 40
SLICE = 0.25  # seconds per row of the timeline


async def _handle(user: str = "") -> str:
    return "ok"


async def _shape_burst(clock: Clock) -> None:
    limiter = RateLimiter(
        RateLimitOptions(rate=Rate(limit=20), burst=5, max_wait=1.0), name="orders", clock=clock
    )
    start = clock.monotonic()
    admitted_at: list[float] = []
    retry_hints: list[float] = []

    async def request() -> None:
        try:
            await limiter.execute(_handle)
        except RateLimited as exc:
            retry_hints.append(exc.retry_after or 0.0)
        else:
            admitted_at.append(clock.monotonic() - start)

    await asyncio.gather(*(request() for _ in range(BURST_SIZE)))
    slices = max(1, math.ceil(max(admitted_at, default=0.0) / SLICE + 1e-9))
    rows = []
    for index in range(slices):
        low, high = index * SLICE, (index + 1) * SLICE
        count = sum(1 for at in admitted_at if low <= at < high)
        rows.append((f"{low:.2f}-{high:.2f} s", count, "#" * count))
    heading(
        "Rate limit: a burst of 40 at 20/s, burst 5, wait up to 1 s",
        "Five pass at once; the rest are spaced at the refill rate; past 1 s of waiting, refused.",
    )
    table(("admitted during", "requests", ""), rows)
    hint = f"{min(retry_hints):.2f}-{max(retry_hints):.2f} s" if retry_hints else "-"
    table(
        ("offered", "admitted", "refused", "retry_after given"),
        [(BURST_SIZE, len(admitted_at), len(retry_hints), hint)],
    )


async def _per_user(clock: Clock) -> None:
    limiter = RateLimiter(
        RateLimitOptions(rate=Rate(limit=5), key=lambda user: user), name="per-user", clock=clock
    )
    rows = []
    for user, sent in (("alice", 20), ("bob", 4), ("carol", 6)):
        admitted = refused = 0
        retry_after = 0.0
        for _ in range(sent):
            try:
                await limiter.execute(_handle, user)
                admitted += 1
            except RateLimited as exc:
                refused += 1
                retry_after = exc.retry_after or 0.0
        rows.append((user, sent, admitted, refused, f"{retry_after:.2f} s" if refused else "-"))
    heading(
        "Rate limit per user: 5/s each, no waiting",
        "alice floods; bob and carol still get their own five.",
    )
    table(("user", "sent", "admitted", "refused", "retry_after"), rows)


async def run(clock: Clock) -> None:
    await _shape_burst(clock)
    await _per_user(clock)
