"""One suite for every catalog store, plus what only SQLite (restart, corrupt or locked file)
and Redis (several nodes, reconnects) must do. Redis tests use the real server."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from meshkit.errors import InstanceNotFound, ServiceAlreadyRegistered, StoreError
from meshkit.registry import ChangeKind, Instance, MemoryStore, Registry, SqliteStore
from meshkit.registry.redis import RedisStore
from meshkit.registry.store import CatalogStore

MakeStore = Callable[[], Awaitable[CatalogStore]]


def inst(n: int, service: str = "orders") -> Instance:
    return Instance(id=f"{service}-{n}", service=service, host="127.0.0.1", port=9000 + n)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def make_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_namespace: str,
    require_redis: Callable[[], str],
) -> AsyncIterator[MakeStore]:
    """A factory of stores that all see the same data (same file, same namespace)."""
    kind = request.param
    memory = MemoryStore()
    made: list[CatalogStore] = []
    redis_url = require_redis() if kind == "redis" else ""  # skips (fails in CI) without Redis

    async def make() -> CatalogStore:
        store: CatalogStore
        if kind == "memory":
            store = memory
        elif kind == "sqlite":
            store = SqliteStore(tmp_path / "catalog.db")
        else:
            store = RedisStore.from_url(redis_url, namespace=redis_namespace)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


async def test_records_round_trip_and_survive_a_new_registry(make_store: MakeStore) -> None:
    async with Registry(await make_store()) as registry:
        await registry.register_service({"name": "web", "dependencies": ["orders"]})
        await registry.register(inst(1))
        await registry.register(inst(2))
        await registry.deregister("orders-2")
    async with Registry(await make_store()) as again:
        assert {s.name for s in again.catalog.services()} == {"web", "orders"}
        assert [s.instance for s in again.catalog.instances("orders")] == [inst(1)]
        assert again.catalog.service("web").dependencies == ("orders",)


async def test_conflicts_and_unknowns_are_refused_and_store_nothing(
    make_store: MakeStore,
) -> None:
    async with Registry(await make_store()) as registry:
        await registry.register(inst(1))
        index = registry.catalog.index
        assert await registry.register(inst(1)) == inst(1)  # idempotent
        assert registry.catalog.index == index
        with pytest.raises(ServiceAlreadyRegistered):
            await registry.register(inst(1).model_copy(update={"port": 1}))
        with pytest.raises(InstanceNotFound):
            await registry.deregister("ghost")
    async with Registry(await make_store()) as again:
        assert [s.instance.port for s in again.catalog.instances("orders")] == [9001]


async def test_deregistering_a_service_removes_its_instances(make_store: MakeStore) -> None:
    async with Registry(await make_store()) as registry:
        await registry.register(inst(1))
        await registry.register(inst(1, "users"))
        await registry.deregister_service("orders")
    async with Registry(await make_store()) as again:
        assert [s.name for s in again.catalog.services()] == ["users"]
        assert [s.instance.id for s in again.catalog.instances("users")] == ["users-1"]


# -- SQLite ----------------------------------------------------------------------------------
async def test_sqlite_is_in_wal_mode_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "catalog.db"
    async with Registry(SqliteStore(path)) as registry:
        await registry.register(inst(1))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    async with Registry(SqliteStore(path)) as registry:
        assert registry.catalog.instance("orders-1").instance == inst(1)


async def test_sqlite_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    path.write_bytes(b"this is not a database, it is a shopping list" * 100)
    registry = Registry(SqliteStore(path))
    with pytest.raises(StoreError, match="not a meshkit SQLite store, or the file is corrupt"):
        await registry.start()
    assert registry.catalog.services() == []


async def test_sqlite_locked_file_is_a_clear_error_and_the_catalog_is_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.db"
    async with Registry(SqliteStore(path, busy_timeout=0.2)) as registry:
        await registry.register(inst(1))
        other = sqlite3.connect(path)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            with pytest.raises(StoreError, match="locked"):
                await registry.register(inst(2))
        finally:
            other.rollback()
            other.close()
        assert [s.instance.id for s in registry.catalog.instances("orders")] == ["orders-1"]
        await registry.register(inst(2))  # the lock is gone: works again
        assert len(registry.catalog.instances("orders")) == 2


# -- Redis -----------------------------------------------------------------------------------
@pytest.fixture
async def nodes(
    redis_client: object, redis_url: str, redis_namespace: str
) -> AsyncIterator[tuple[Registry, Registry]]:
    a = Registry(RedisStore.from_url(redis_url, namespace=redis_namespace, node_id="a"))
    b = Registry(
        RedisStore.from_url(redis_url, namespace=redis_namespace, node_id="b", reconnect_delay=0.05)
    )
    await a.start()
    await b.start()
    yield a, b
    await a.close()
    await b.close()


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    for _ in range(200):  # bounded: 200 turns of at most 25 ms
        if condition():
            return
        await asyncio.sleep(0.025)  # real Redis propagation takes real time
    pytest.fail(f"timed out waiting for {what}")


async def test_changes_propagate_to_every_nodes_watchers(nodes: tuple[Registry, Registry]) -> None:
    a, b = nodes
    since = b.catalog.index
    watching = asyncio.ensure_future(b.catalog.watch(since, timeout=5))
    await a.register(inst(1))
    seen = list((await watching).changes)  # wakes on the first change: the service
    while ChangeKind.ADDED not in [c.kind for c in seen] and len(seen) < 10:
        seen += (await b.catalog.watch(seen[-1].index, timeout=5)).changes
    assert [c.kind for c in seen] == [ChangeKind.SERVICE_ADDED, ChangeKind.ADDED]
    await wait_for(lambda: b.catalog.has_service("orders"), "node b to see orders")
    await a.deregister("orders-1")
    await wait_for(lambda: b.catalog.instances("orders") == [], "node b to see the removal")
    await b.register(inst(5, "users"))
    await wait_for(lambda: a.catalog.has_service("users"), "node a to see users")


async def test_a_node_is_consistent_again_after_a_reconnect(
    nodes: tuple[Registry, Registry], redis_client: object
) -> None:
    a, b = nodes
    store_b = b.store
    assert isinstance(store_b, RedisStore)
    await a.register(inst(1))
    await wait_for(lambda: b.catalog.has_service("orders"), "first propagation")
    killed = await redis_client.client_kill_filter(_type="pubsub", skipme=True)  # type: ignore[attr-defined]
    assert killed >= 1
    await a.register(inst(2))  # published while b is disconnected: b misses the message
    await a.deregister("orders-1")
    await wait_for(lambda: store_b.reconnects >= 1, "node b to reconnect")
    await wait_for(
        lambda: [s.instance.id for s in b.catalog.instances("orders")] == ["orders-2"],
        "node b to resync",
    )


async def test_redis_down_is_a_store_error_and_the_catalog_is_untouched() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1", timeout=0.5)
    registry = Registry(store)
    with pytest.raises(StoreError, match="Redis registry store"):
        await registry.register(inst(1))
    assert registry.catalog.services() == []
    await store.close()
