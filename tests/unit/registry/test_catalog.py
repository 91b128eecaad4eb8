from __future__ import annotations

import asyncio

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import InstanceNotFound, ServiceAlreadyRegistered, ServiceNotFound
from meshkit.events import EventBus
from meshkit.health.status import HealthStatus
from meshkit.registry import Catalog, CatalogChanged, ChangeKind, Instance, Service
from meshkit.registry.models import HealthCheckSpec
from meshkit.testing import EventRecorder


def inst(n: int, service: str = "orders", **extra: object) -> Instance:
    return Instance(id=f"{service}-{n}", service=service, host="127.0.0.1", port=8000 + n, **extra)  # type: ignore[arg-type]


def test_register_creates_the_service_and_numbers_changes(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    catalog = Catalog(clock=clock, events=bus)
    changes = catalog.put_instance(inst(1))
    assert [(c.index, c.kind) for c in changes] == [
        (1, ChangeKind.SERVICE_ADDED),
        (2, ChangeKind.ADDED),
    ]
    assert catalog.index == 2
    assert [s.instance.id for s in catalog.instances("orders")] == ["orders-1"]
    assert [e.change for e in recorder.of(CatalogChanged)] == changes


def test_identical_reregistration_is_a_no_op_and_conflicts_are_refused() -> None:
    catalog = Catalog()
    catalog.put_instance(inst(1))
    assert catalog.put_instance(inst(1)) == []
    assert catalog.index == 2
    with pytest.raises(ServiceAlreadyRegistered, match="orders-1"):
        catalog.put_instance(inst(1).model_copy(update={"port": 9999}))
    changes = catalog.put_instance(inst(1).model_copy(update={"port": 9999}), replace=True)
    assert [c.kind for c in changes] == [ChangeKind.UPDATED]


def test_unknown_names_raise() -> None:
    catalog = Catalog()
    with pytest.raises(ServiceNotFound):
        catalog.instances("nope")
    with pytest.raises(ServiceNotFound):
        catalog.remove_service("nope")
    with pytest.raises(InstanceNotFound):
        catalog.remove_instance("nope")
    with pytest.raises(InstanceNotFound):
        catalog.set_status("nope", HealthStatus.CRITICAL)


def test_health_starts_by_check_kind_and_changes_once() -> None:
    catalog = Catalog()
    catalog.put_instance(inst(1))
    catalog.put_instance(inst(2, check=HealthCheckSpec(kind="http")))
    states = {s.instance.id: s.status for s in catalog.instances("orders")}
    assert states == {"orders-1": HealthStatus.PASSING, "orders-2": HealthStatus.UNKNOWN}
    assert [c.kind for c in catalog.set_status("orders-1", HealthStatus.CRITICAL)] == [
        ChangeKind.HEALTH_CHANGED
    ]
    assert catalog.set_status("orders-1", HealthStatus.CRITICAL) == []
    assert [s.instance.id for s in catalog.instances("orders", up_only=True)] == ["orders-2"]


def test_remove_service_removes_its_instances_first() -> None:
    catalog = Catalog()
    catalog.put_instance(inst(1))
    catalog.put_instance(inst(2))
    kinds = [c.kind for c in catalog.remove_service("orders")]
    assert kinds == [ChangeKind.REMOVED, ChangeKind.REMOVED, ChangeKind.SERVICE_REMOVED]
    assert catalog.services() == []


def test_changes_since_and_resync_when_history_is_gone() -> None:
    catalog = Catalog(history=3)
    for n in range(3):
        catalog.put_instance(inst(n))  # indexes 1 (service), 2, 3, 4
    result = catalog.changes_since(2)
    assert [c.index for c in result.changes] == [3, 4]
    assert not result.resync
    assert catalog.changes_since(4).changes == ()
    assert catalog.changes_since(0).resync  # change 1 has left the history


async def test_watch_returns_at_once_waits_or_times_out(clock: FakeClock) -> None:
    catalog = Catalog(clock=clock)
    catalog.put_instance(inst(1))
    assert [c.index for c in (await catalog.watch(0, timeout=5)).changes] == [1, 2]

    waiting = asyncio.ensure_future(catalog.watch(catalog.index, timeout=30))
    await clock.run_for(10)
    assert not waiting.done()
    catalog.put_instance(inst(2))
    result = await waiting
    assert [c.kind for c in result.changes] == [ChangeKind.ADDED]
    assert result.index == 3

    quiet = asyncio.ensure_future(catalog.watch(catalog.index, timeout=30))
    await clock.run_for(30)
    assert (await quiet).changes == ()
    assert clock.pending_timers == 0


def test_replace_all_applies_the_minimal_difference() -> None:
    catalog = Catalog()
    catalog.put_instance(inst(1))
    catalog.put_instance(inst(2))
    catalog.set_status("orders-2", HealthStatus.WARNING)
    changes = catalog.replace_all(
        [Service(name="orders"), Service(name="users")], [inst(2), inst(3, "users")]
    )
    assert [(c.kind, c.instance_id or c.service) for c in changes] == [
        (ChangeKind.REMOVED, "orders-1"),
        (ChangeKind.SERVICE_ADDED, "users"),
        (ChangeKind.ADDED, "users-3"),
    ]
    assert catalog.instance("orders-2").status is HealthStatus.WARNING  # kept


def test_dependency_graph_queries() -> None:
    catalog = Catalog()
    catalog.put_service(Service(name="web", dependencies=("orders", "users")))
    catalog.put_service(Service(name="orders", dependencies=("payments", "web")))
    catalog.put_service(Service(name="users"))
    assert catalog.dependents("orders") == ["web"]
    assert catalog.missing_dependencies() == {"orders": ["payments"]}
    assert catalog.cycles() == [["orders", "web"]]
