"""Where the catalog's records live beyond the process: the store interface, and memory.

A store persists services and instances (health is runtime state, re-learned by checking, and
is not stored). The registry writes to the store *first* and changes the in-memory catalog
only when the write succeeded, so a failing store never leaves the catalog half-changed.

Stores shared by several nodes (Redis) also report what *other* nodes changed: ``follow``
hands them two callbacks — ``apply`` for one remote change, ``resync`` after a reconnect,
when changes may have been missed and the whole state must be re-read.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Protocol

from meshkit.registry.models import Instance, Service

__all__ = [
    "ApplyRemote",
    "CatalogStore",
    "MemoryStore",
    "ResyncRemote",
    "decode_instance",
    "decode_service",
    "encode",
]

ApplyRemote = Callable[[str, Service | Instance | str], None]
"""``apply(op, payload)``: op is ``put_service`` / ``put_instance`` (a record) or
``delete_service`` / ``delete_instance`` (a name or id)."""
ResyncRemote = Callable[[], Awaitable[None]]


class CatalogStore(Protocol):
    async def open(self) -> None: ...

    async def load(self) -> tuple[list[Service], list[Instance]]: ...

    async def put_service(self, service: Service) -> None: ...

    async def delete_service(self, name: str) -> None:
        """Delete the service and every instance of it."""

    async def put_instance(self, instance: Instance) -> None: ...

    async def delete_instance(self, instance_id: str) -> None: ...

    async def follow(self, apply: ApplyRemote, resync: ResyncRemote) -> None:
        """Start reporting other nodes' changes (single-node stores do nothing)."""

    async def close(self) -> None: ...


def encode(record: Service | Instance) -> str:
    return record.model_dump_json()


def decode_service(text: str | bytes) -> Service:
    return Service.model_validate(json.loads(text))


def decode_instance(text: str | bytes) -> Instance:
    return Instance.model_validate(json.loads(text))


class MemoryStore:
    """Keeps records in the process only: nothing survives a restart. For tests and for
    instances that re-register themselves on start anyway."""

    def __init__(self) -> None:
        self._services: dict[str, Service] = {}
        self._instances: dict[str, Instance] = {}

    async def open(self) -> None:
        return None

    async def load(self) -> tuple[list[Service], list[Instance]]:
        return list(self._services.values()), list(self._instances.values())

    async def put_service(self, service: Service) -> None:
        self._services[service.name] = service

    async def delete_service(self, name: str) -> None:
        self._services.pop(name, None)
        for instance_id in [i.id for i in self._instances.values() if i.service == name]:
            del self._instances[instance_id]

    async def put_instance(self, instance: Instance) -> None:
        self._instances[instance.id] = instance

    async def delete_instance(self, instance_id: str) -> None:
        self._instances.pop(instance_id, None)

    async def follow(self, apply: ApplyRemote, resync: ResyncRemote) -> None:
        return None

    async def close(self) -> None:
        return None
