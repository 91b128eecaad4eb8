"""The catalog: every service and instance, their health, and a numbered change feed.

Theory of operation
-------------------
The catalog is the in-memory index every lookup reads — no I/O, no awaiting (a store persists
it; see :mod:`meshkit.registry.registry`). Each change gets the next *index*, goes into a
bounded history, is published on the event bus, and wakes the watchers.

``watch(index, timeout)`` has Consul's blocking-query meaning: if anything changed after
``index`` it returns at once with those changes; otherwise it waits until something does, or
until ``timeout`` passes (then with no changes). A watcher that fell further behind than the
history reaches gets ``resync=True`` and re-reads :meth:`snapshot`. Watching costs one future
per waiting watcher and nothing per change while nobody waits.

Instances start ``PASSING`` when they have no active check, ``UNKNOWN`` until their first
check otherwise. Re-registering an identical record is a no-op (no change, no index);
the same id with different data is refused unless the caller replaces on purpose.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import InstanceNotFound, ServiceAlreadyRegistered, ServiceNotFound
from meshkit.events import EventBus
from meshkit.health.status import HealthStatus
from meshkit.registry import graph
from meshkit.registry.changes import (
    CatalogChange,
    CatalogChanged,
    ChangeKind,
    InstanceState,
    WatchResult,
)
from meshkit.registry.models import Instance, Service

__all__ = ["Catalog"]


class Catalog:
    """Services, instances and health, with a change feed; see the module docstring."""

    def __init__(
        self, *, clock: Clock = SYSTEM_CLOCK, events: EventBus | None = None, history: int = 10_000
    ) -> None:
        self._clock = clock
        self._events = events
        self._services: dict[str, Service] = {}
        self._members: dict[str, dict[str, Instance]] = {}  # service -> id -> instance
        self._instances: dict[str, Instance] = {}
        self._status: dict[str, HealthStatus] = {}
        self._history: deque[CatalogChange] = deque(maxlen=history)
        self._index = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def index(self) -> int:
        return self._index

    # -- reading -----------------------------------------------------------------------------
    def services(self) -> list[Service]:
        return list(self._services.values())

    def has_service(self, name: str) -> bool:
        return name in self._services

    def service(self, name: str) -> Service:
        try:
            return self._services[name]
        except KeyError:
            raise ServiceNotFound(f"service {name!r} is not registered") from None

    def instances(self, service: str, *, up_only: bool = False) -> list[InstanceState]:
        """The instances of ``service`` (``ServiceNotFound`` if it is not registered)."""
        self.service(service)
        states = [InstanceState(i, self._status[i.id]) for i in self._members[service].values()]
        return [s for s in states if s.is_up] if up_only else states

    def instance(self, instance_id: str) -> InstanceState:
        try:
            return InstanceState(self._instances[instance_id], self._status[instance_id])
        except KeyError:
            raise InstanceNotFound(f"no instance {instance_id!r}") from None

    def snapshot(self) -> tuple[int, list[Service], list[InstanceState]]:
        """``(index, services, instances)`` as of now."""
        states = [InstanceState(i, self._status[i.id]) for i in self._instances.values()]
        return self._index, self.services(), states

    # -- changing ----------------------------------------------------------------------------
    def check_instance(self, instance: Instance) -> bool:
        """Whether registering ``instance`` would change anything; raises
        ``ServiceAlreadyRegistered`` if its id is taken by different data."""
        known = self._instances.get(instance.id)
        if known is None:
            return True
        if known == instance:
            return False
        raise ServiceAlreadyRegistered(
            f"instance {instance.id!r} is already registered with different data "
            f"({known.service} at {known.address}); deregister it first"
        )

    def put_service(self, service: Service) -> list[CatalogChange]:
        known = self._services.get(service.name)
        if known == service:
            return []
        self._services[service.name] = service
        self._members.setdefault(service.name, {})
        kind = ChangeKind.SERVICE_ADDED if known is None else ChangeKind.SERVICE_UPDATED
        return [self._record(kind, service.name, record=service)]

    def remove_service(self, name: str) -> list[CatalogChange]:
        self.service(name)
        changes = [self._remove(i) for i in list(self._members[name].values())]
        record = self._services.pop(name)
        del self._members[name]
        changes.append(self._record(ChangeKind.SERVICE_REMOVED, name, record=record))
        return changes

    def put_instance(self, instance: Instance, *, replace: bool = False) -> list[CatalogChange]:
        """Register ``instance`` (creating its service if unknown). ``replace=True`` overwrites
        an id registered with other data (a store applying a remote node's change)."""
        if not replace and not self.check_instance(instance):
            return []
        known = self._instances.get(instance.id)
        if known == instance:
            return []
        changes = []
        if instance.service not in self._services:
            changes += self.put_service(Service(name=instance.service))
        if known is not None and known.service != instance.service:
            changes.append(self._remove(known))
            known = None
        self._instances[instance.id] = instance
        self._members[instance.service][instance.id] = instance
        if known is None:
            self._status[instance.id] = (
                HealthStatus.PASSING if instance.check.kind == "none" else HealthStatus.UNKNOWN
            )
        kind = ChangeKind.ADDED if known is None else ChangeKind.UPDATED
        status = self._status[instance.id]
        changes.append(self._record(kind, instance.service, instance=instance, status=status))
        return changes

    def remove_instance(self, instance_id: str) -> list[CatalogChange]:
        known = self._instances.get(instance_id)
        if known is None:
            raise InstanceNotFound(f"no instance {instance_id!r} to deregister")
        return [self._remove(known)]

    def set_status(self, instance_id: str, status: HealthStatus) -> list[CatalogChange]:
        known = self._instances.get(instance_id)
        if known is None:
            raise InstanceNotFound(f"no instance {instance_id!r}")
        if self._status[instance_id] is status:
            return []
        self._status[instance_id] = status
        return [
            self._record(ChangeKind.HEALTH_CHANGED, known.service, instance=known, status=status)
        ]

    def replace_all(
        self, services: Iterable[Service], instances: Iterable[Instance]
    ) -> list[CatalogChange]:
        """Make the catalog hold exactly these records (after a reload or reconnect), as the
        minimal list of changes; health of instances that stay is kept."""
        services = list(services)
        instances = list(instances)
        wanted_ids = {i.id for i in instances}
        wanted_services = {s.name for s in services} | {i.service for i in instances}
        changes: list[CatalogChange] = []
        for instance in list(self._instances.values()):
            if instance.id not in wanted_ids:
                changes.append(self._remove(instance))
        for name in list(self._services):
            if name not in wanted_services:
                changes += self.remove_service(name)
        for service in services:
            changes += self.put_service(service)
        for instance in instances:
            changes += self.put_instance(instance, replace=True)
        return changes

    # -- the change feed ---------------------------------------------------------------------
    def changes_since(self, index: int) -> WatchResult:
        history = self._history
        if index >= self._index:
            return WatchResult(index=self._index, changes=())
        if not history or history[0].index > index + 1:
            return WatchResult(index=self._index, changes=(), resync=True)
        skip = index + 1 - history[0].index
        changes = tuple(history[i] for i in range(skip, len(history)))
        return WatchResult(index=self._index, changes=changes)

    async def watch(self, index: int, timeout: float) -> WatchResult:
        """Changes after ``index``, waiting up to ``timeout`` seconds for the first one."""
        if index >= self._index and timeout > 0:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)

            def expire() -> None:
                if not waiter.done():
                    waiter.set_result(None)

            timer = self._clock.call_later(timeout, expire)
            try:
                await waiter
            finally:
                timer.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self.changes_since(index)

    # -- dependency graph --------------------------------------------------------------------
    def dependency_graph(self) -> dict[str, tuple[str, ...]]:
        return {name: s.dependencies for name, s in self._services.items()}

    def dependents(self, name: str) -> list[str]:
        return graph.dependents(self.dependency_graph(), name)

    def missing_dependencies(self) -> dict[str, list[str]]:
        return graph.missing_dependencies(self.dependency_graph())

    def cycles(self) -> list[list[str]]:
        return graph.cycles(self.dependency_graph())

    # -- internals ---------------------------------------------------------------------------
    def _remove(self, instance: Instance) -> CatalogChange:
        del self._instances[instance.id]
        del self._members[instance.service][instance.id]
        status = self._status.pop(instance.id)
        return self._record(ChangeKind.REMOVED, instance.service, instance=instance, status=status)

    def _record(
        self,
        kind: ChangeKind,
        service: str,
        *,
        instance: Instance | None = None,
        record: Service | None = None,
        status: HealthStatus | None = None,
    ) -> CatalogChange:
        self._index += 1
        change = CatalogChange(
            index=self._index,
            kind=kind,
            service=service,
            instance_id=instance.id if instance is not None else None,
            instance=instance,
            record=record,
            status=status,
        )
        self._history.append(change)
        events = self._events
        if events is not None and events.active:
            events.publish(CatalogChanged(source="catalog", at=self._clock.time(), change=change))
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        return change

    def __repr__(self) -> str:
        return (
            f"Catalog(services={len(self._services)}, instances={len(self._instances)}, "
            f"index={self._index})"
        )
