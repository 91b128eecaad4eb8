"""The per-service call path on a fake clock, with in-process "instances"."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConnectFailed, NoHealthyEndpoint
from meshkit.health.outlier import OutlierOptions
from meshkit.health.status import HealthStatus
from meshkit.registry import Instance, InstanceState, Service, ServicePolicy
from meshkit.upstreams import ServiceRoute


def states(n: int, status: HealthStatus = HealthStatus.PASSING) -> list[InstanceState]:
    return [
        InstanceState(
            Instance(id=f"i{k}", service="orders", host="127.0.0.1", port=9000 + k), status
        )
        for k in range(n)
    ]


def make(clock: FakeClock, n: int = 3, **policy: object) -> ServiceRoute:
    policy.setdefault("algorithm", "round_robin")
    route = ServiceRoute(
        Service(name="orders", policy=ServicePolicy(**policy)),  # type: ignore[arg-type]
        clock=clock,
        events=None,
        outlier=OutlierOptions(consecutive_5xx=3, base_ejection_time=30, max_ejection_percent=50),
    )
    route.update(states(n))
    return route


async def answer(instance: Instance, status: dict[str, int]) -> int:
    return status.get(instance.id, 200)


async def test_spreads_calls_and_passes_the_instance(clock: FakeClock) -> None:
    route = make(clock)
    seen: Counter[str] = Counter()
    for _ in range(30):
        instance = await route.call(_identity, (), {})
        seen[instance.id] += 1
    assert seen == {"i0": 10, "i1": 10, "i2": 10}


async def _identity(instance: Instance) -> Instance:
    return instance


async def test_5xx_streak_ejects_and_the_endpoint_returns_after_the_ejection(
    clock: FakeClock,
) -> None:
    route = make(clock)
    statuses = {"i1": 503}
    for _ in range(9):  # i1 answers 503 three times in a row
        await route.call(answer, (statuses,), {}, classify=lambda s: s)
    assert route.balancer.get("i1").ejected  # type: ignore[union-attr]
    picks = Counter([(await route.call(_identity, (), {})).id for _ in range(20)])
    assert "i1" not in picks
    statuses.clear()
    clock.advance(30)
    assert not route.balancer.get("i1").ejected  # type: ignore[union-attr]


async def test_connection_failures_open_the_endpoints_breaker_and_it_comes_back(
    clock: FakeClock,
) -> None:
    route = ServiceRoute(
        Service(name="orders", policy=ServicePolicy(algorithm="round_robin")),
        clock=clock,
        events=None,
        outlier=None,
    )
    route.update(states(2))

    async def flaky(instance: Instance) -> str:
        if instance.id == "i0":
            raise ConnectFailed("refused")
        return instance.id

    for _ in range(10):  # i0 fails 5 times: its breaker opens
        with contextlib.suppress(ConnectFailed):
            await route.call(flaky, (), {})
    assert route.balancer.get("i0").breaker_open  # type: ignore[union-attr]
    assert {await route.call(flaky, (), {}) for _ in range(5)} == {"i1"}
    clock.advance(10)  # the break is over: i0 gets a probe again
    assert not route.balancer.get("i0").breaker_open  # type: ignore[union-attr]


async def test_retries_go_to_another_instance(clock: FakeClock) -> None:
    route = make(clock, n=2, max_attempts=2)
    tried: list[str] = []

    async def first_fails(instance: Instance) -> str:
        tried.append(instance.id)
        if len(tried) == 1:
            raise ConnectFailed("refused")
        return instance.id

    task = asyncio.ensure_future(route.call(first_fails, (), {}))
    await clock.run_for(2.0)
    assert await task == tried[1]
    assert tried[0] != tried[1]


async def test_no_instance_at_all_is_no_healthy_endpoint(clock: FakeClock) -> None:
    route = make(clock, n=0)
    with pytest.raises(NoHealthyEndpoint) as info:
        await route.call(_identity, (), {})
    assert info.value.retry_after is not None


async def test_critical_instances_are_skipped(clock: FakeClock) -> None:
    route = make(clock, n=3)
    route.update([*states(2), InstanceState(states(3)[2].instance, HealthStatus.CRITICAL)])
    assert {(await route.call(_identity, (), {})).id for _ in range(10)} == {"i0", "i1"}
