"""The registry: validated registration, written through a store into the catalog.

Every change is validated first (``InvalidRegistration`` lists every bad field), checked
against the catalog (an identical re-registration is a no-op, the same id with other data is
``ServiceAlreadyRegistered``), written to the store, and only then applied to the catalog —
so a store failure (``StoreError``) leaves the catalog exactly as it was.

Changes made by other nodes sharing the store arrive through ``follow`` and are applied to
the catalog as they come; after a reconnect the whole state is re-read and the difference
applied, so every node converges on the same catalog.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import InstanceNotFound
from meshkit.events import EventBus
from meshkit.health.status import HealthStatus
from meshkit.registry.catalog import Catalog
from meshkit.registry.changes import CatalogChange
from meshkit.registry.models import Instance, Service, parse_instance, parse_service
from meshkit.registry.store import CatalogStore, MemoryStore

__all__ = ["Registry"]


class Registry:
    """Register services and instances durably; read them from :attr:`catalog`."""

    def __init__(
        self,
        store: CatalogStore | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.store: CatalogStore = store if store is not None else MemoryStore()
        self.catalog = Catalog(clock=clock, events=events)
        self._started = False

    async def start(self) -> None:
        """Open the store, start hearing other nodes, then load what is stored."""
        if self._started:
            return
        await self.store.open()
        await self.store.follow(self._apply_remote, self._resync)
        await self._resync()
        self._started = True

    async def close(self) -> None:
        await self.store.close()
        self._started = False

    async def __aenter__(self) -> Registry:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- registration ------------------------------------------------------------------------
    async def register_service(self, service: Service | Mapping[str, Any]) -> Service:
        record = parse_service(service)
        if self.catalog.has_service(record.name) and self.catalog.service(record.name) == record:
            return record
        await self.store.put_service(record)
        self.catalog.put_service(record)
        return record

    async def register(self, instance: Instance | Mapping[str, Any]) -> Instance:
        """Register an instance (its service is created if unknown)."""
        record = parse_instance(instance)
        if not self.catalog.check_instance(record):
            return record  # the very same record: nothing to do
        if not self.catalog.has_service(record.service):
            service = Service(name=record.service)
            await self.store.put_service(service)
            self.catalog.put_service(service)
        await self.store.put_instance(record)
        self.catalog.put_instance(record)
        return record

    async def deregister(self, instance_id: str) -> None:
        """Remove an instance (``InstanceNotFound`` if no instance has that id)."""
        self.catalog.instance(instance_id)
        await self.store.delete_instance(instance_id)
        self.catalog.remove_instance(instance_id)

    async def deregister_service(self, name: str) -> None:
        """Remove a service and all its instances (``ServiceNotFound`` if unknown)."""
        self.catalog.service(name)
        await self.store.delete_service(name)
        self.catalog.remove_service(name)

    def set_status(self, instance_id: str, status: HealthStatus) -> list[CatalogChange]:
        """Record a health status (runtime state: each node checks for itself)."""
        return self.catalog.set_status(instance_id, status)

    # -- other nodes -------------------------------------------------------------------------
    def _apply_remote(self, op: str, payload: Service | Instance | str) -> None:
        catalog = self.catalog
        if op == "put_service" and isinstance(payload, Service):
            catalog.put_service(payload)
        elif op == "put_instance" and isinstance(payload, Instance):
            catalog.put_instance(payload, replace=True)
        elif op == "delete_instance" and isinstance(payload, str):
            with contextlib.suppress(InstanceNotFound):  # already gone: a resync got there first
                catalog.remove_instance(payload)
        elif op == "delete_service" and isinstance(payload, str) and catalog.has_service(payload):
            catalog.remove_service(payload)

    async def _resync(self) -> None:
        services, instances = await self.store.load()
        self.catalog.replace_all(services, instances)

    def __repr__(self) -> str:
        return f"Registry(store={self.store!r}, catalog={self.catalog!r})"
