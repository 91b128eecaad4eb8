"""What the catalog says when it changes: numbered changes, and the result of a watch."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meshkit.events import Event
from meshkit.health.status import HealthStatus
from meshkit.registry.models import Instance, Service

__all__ = ["CatalogChange", "CatalogChanged", "ChangeKind", "InstanceState", "WatchResult"]


class ChangeKind(enum.StrEnum):
    SERVICE_ADDED = "service_added"
    SERVICE_UPDATED = "service_updated"
    SERVICE_REMOVED = "service_removed"
    ADDED = "added"  # an instance
    UPDATED = "updated"
    REMOVED = "removed"
    HEALTH_CHANGED = "health_changed"


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogChange:
    """Change number ``index`` (strictly increasing) of ``kind`` to ``service``; instance
    changes carry the instance (its last state, for removals) and health changes the status."""

    index: int
    kind: ChangeKind
    service: str
    instance_id: str | None = None
    instance: Instance | None = None
    record: Service | None = None
    status: HealthStatus | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogChanged(Event):
    """Published on the event bus for every change."""

    change: CatalogChange


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchResult:
    """The catalog's ``index`` now and the ``changes`` after the index asked about. With
    ``resync`` the changes asked for are no longer kept: read a snapshot instead."""

    index: int
    changes: tuple[CatalogChange, ...]
    resync: bool = False


@dataclass(frozen=True, slots=True)
class InstanceState:
    """An instance and its current health status."""

    instance: Instance
    status: HealthStatus

    @property
    def is_up(self) -> bool:
        """May receive traffic: passing, warning, or not checked yet (optimistic, like Envoy
        routing to new hosts before their first health check)."""
        return self.status is not HealthStatus.CRITICAL
