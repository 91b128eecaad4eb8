"""Scene: retries held back by a retry budget, so an outage is not multiplied.

Two hundred requests reach a client that retries up to 3 attempts. When the dependency is
down, plain retries triple the load on it; with a budget (retries at most 20 % of requests
plus 1 per second, over 10 s, as Linkerd and Envoy do) the extra load stays near 20 %. When
only 10 % of calls fail, the budget has room for every retry and both clients succeed alike.
"""

from __future__ import annotations

import asyncio
import random

from meshkit.clock import Clock
from meshkit.demo.tables import heading, table
from meshkit.errors import RetryBudgetExhausted
from meshkit.resilience import Backoff, Retry, RetryBudget, RetryOptions

__all__ = ["run"]

REQUESTS = 200


class _Dependency:
    """Fails each call with probability ``failure_rate`` (seeded, so every run is the same)."""

    def __init__(self, clock: Clock, failure_rate: float) -> None:
        self.clock = clock
        self.failure_rate = failure_rate
        self.calls = 0
        self.rng = random.Random(7)

    async def __call__(self) -> str:
        self.calls += 1
        await self.clock.sleep(0)  # a real trip through the event loop, as a network call
        if self.rng.random() < self.failure_rate:
            raise ConnectionError("dependency failed")
        return "ok"


async def _drive(
    clock: Clock, failure_rate: float, budget: RetryBudget | None
) -> tuple[object, ...]:
    dependency = _Dependency(clock, failure_rate)
    retry = Retry(
        RetryOptions(
            max_attempts=3,
            backoff=Backoff(kind="exponential_full_jitter", base=0.002, max_delay=0.01),
            budget=budget,
        ),
        name="payments",
        clock=clock,
        rng=random.Random(11),
    )
    outcomes = await asyncio.gather(
        *(retry.execute(dependency) for _ in range(REQUESTS)), return_exceptions=True
    )
    succeeded = sum(1 for o in outcomes if o == "ok")
    refused = sum(1 for o in outcomes if isinstance(o, RetryBudgetExhausted))
    return (
        dependency.calls,
        f"{dependency.calls / REQUESTS:.2f}x",
        succeeded,
        refused,
    )


async def run(clock: Clock) -> None:
    rows = []
    for label, failure_rate in (("outage (100 % fail)", 1.0), ("flaky (10 % fail)", 0.1)):
        budgeted = RetryBudget(ratio=0.2, min_retries_per_second=1, clock=clock)
        for client, budget in (
            ("3 attempts, no budget", None),
            ("3 attempts + budget 20 %", budgeted),
        ):
            rows.append((label, client, REQUESTS, *await _drive(clock, failure_rate, budget)))
    heading(
        "Retry budget: retries must not multiply an outage",
        "Load on the dependency per request, with and without a budget shared by all callers.",
    )
    table(
        ("dependency", "client", "requests", "calls made", "load", "succeeded", "budget refused"),
        rows,
    )
