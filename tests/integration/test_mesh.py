"""The library face end to end: real HTTP upstreams on 127.0.0.1, real health checks, httpx."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from meshkit.errors import InstanceNotFound, NoHealthyEndpoint, ServiceNotFound
from meshkit.health.status import HealthStatus
from meshkit.mesh import ServiceMesh
from meshkit.registry import SqliteStore
from meshkit.testing import FakeUpstream

FAST_CHECK = {"kind": "http", "path": "/health", "interval": 0.05, "timeout": 0.05}


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    for _ in range(200):  # bounded: at most ~5 s
        if condition():
            return
        await asyncio.sleep(0.025)  # health checks run on real sockets and real time
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
async def upstreams() -> AsyncIterator[list[FakeUpstream]]:
    servers = [await FakeUpstream(f"orders-{i}").start() for i in range(3)]
    yield servers
    for server in servers:
        await server.stop()


@pytest.fixture
async def mesh() -> AsyncIterator[ServiceMesh]:
    async with ServiceMesh() as mesh:
        yield mesh


async def register_all(mesh: ServiceMesh, upstreams: list[FakeUpstream]) -> None:
    await mesh.register_service({"name": "orders", "policy": {"algorithm": "round_robin"}})
    for server in upstreams:
        await mesh.register(
            {"id": server.name, "service": "orders", "host": "127.0.0.1", "port": server.port,
             "check": FAST_CHECK}
        )  # fmt: skip


async def test_httpx_calls_reach_every_healthy_instance(
    mesh: ServiceMesh, upstreams: list[FakeUpstream]
) -> None:
    await register_all(mesh, upstreams)
    async with httpx.AsyncClient(transport=mesh.transport()) as http:
        bodies = [(await http.get("http://orders/items/7")).text for _ in range(30)]
    spread = Counter(b.split()[0] for b in bodies)
    # round robin (restarted at a random place when a first health check lands)
    assert set(spread) == {"orders-0", "orders-1", "orders-2"}
    assert min(spread.values()) >= 8
    assert all(b.endswith("GET /items/7") for b in bodies)


async def test_a_stopped_instance_turns_critical_and_traffic_moves_away_and_back(
    mesh: ServiceMesh, upstreams: list[FakeUpstream]
) -> None:
    await register_all(mesh, upstreams)
    await wait_for(
        lambda: all(s.status is HealthStatus.PASSING for s in mesh.catalog.instances("orders")),
        "all passing",
    )
    down = upstreams[1]
    await down.stop()
    await wait_for(
        lambda: mesh.catalog.instance(down.name).status is HealthStatus.CRITICAL, "critical"
    )
    assert mesh.summary("orders").healthy == 2
    async with httpx.AsyncClient(transport=mesh.transport()) as http:
        bodies = [(await http.get("http://orders/")).text.split()[0] for _ in range(20)]
        assert set(bodies) == {"orders-0", "orders-2"}
        await down.start()
        await wait_for(
            lambda: mesh.catalog.instance(down.name).status is HealthStatus.PASSING, "passing"
        )
        bodies = [(await http.get("http://orders/")).text.split()[0] for _ in range(30)]
    assert set(bodies) == {"orders-0", "orders-1", "orders-2"}


async def test_ttl_heartbeats_and_deregistration_after_critical(mesh: ServiceMesh) -> None:
    await mesh.register(
        {"id": "worker-1", "service": "worker", "host": "127.0.0.1", "port": 9,
         "check": {"kind": "ttl", "ttl": 0.2, "deregister_after": 0.3}}
    )  # fmt: skip
    heartbeat = mesh.heartbeat("worker-1")
    heartbeat.pass_("draining the queue")
    await wait_for(
        lambda: mesh.catalog.instance("worker-1").status is HealthStatus.PASSING, "passing"
    )
    # no more heartbeats: critical after the TTL, deregistered 0.3 s later
    await wait_for(lambda: mesh.catalog.instances("worker") == [], "deregistration")


async def test_unknown_and_empty_services(mesh: ServiceMesh) -> None:
    async def call(instance: object) -> None:
        return None

    with pytest.raises(ServiceNotFound):
        await mesh.call("nope", call)
    with pytest.raises(ServiceNotFound):
        await mesh.deregister_service("nope")
    with pytest.raises(InstanceNotFound):
        await mesh.deregister("nope-1")
    await mesh.register_service({"name": "empty"})
    with pytest.raises(NoHealthyEndpoint) as info:
        await mesh.call("empty", call)
    assert info.value.retry_after is not None


async def test_registrations_survive_a_restart_on_sqlite(
    tmp_path: object, upstreams: list[FakeUpstream]
) -> None:
    path = f"{tmp_path}/mesh.db"
    async with ServiceMesh(SqliteStore(path)) as first:
        await register_all(first, upstreams)
    async with ServiceMesh(SqliteStore(path)) as second:
        async with httpx.AsyncClient(transport=second.transport()) as http:
            reply = await http.get("http://orders/")
        assert reply.status_code == 200
        assert len(second.catalog.instances("orders")) == 3
