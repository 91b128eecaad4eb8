"""The service registry: validated records, the catalog with its change feed, and stores.

:class:`Catalog` (pure, in memory) answers every lookup and numbers every change;
:class:`Registry` writes through a store — :class:`MemoryStore`, the embedded
:class:`~meshkit.registry.sqlite.SqliteStore` (default for a node), or the shared
:class:`~meshkit.registry.redis.RedisStore` — before changing the catalog.
"""

from __future__ import annotations

from meshkit.registry.catalog import Catalog
from meshkit.registry.changes import (
    CatalogChange,
    CatalogChanged,
    ChangeKind,
    InstanceState,
    WatchResult,
)
from meshkit.registry.models import (
    HealthCheckSpec,
    Instance,
    Service,
    ServicePolicy,
    parse_instance,
    parse_service,
)
from meshkit.registry.policy import BreakerPolicy, BulkheadPolicy, OutlierPolicy
from meshkit.registry.policy_retry import BackoffPolicy, RetryBudgetPolicy, RetryPolicy
from meshkit.registry.registry import Registry
from meshkit.registry.sqlite import SqliteStore
from meshkit.registry.store import CatalogStore, MemoryStore

__all__ = [
    "BackoffPolicy",
    "BreakerPolicy",
    "BulkheadPolicy",
    "Catalog",
    "CatalogChange",
    "CatalogChanged",
    "CatalogStore",
    "ChangeKind",
    "HealthCheckSpec",
    "Instance",
    "InstanceState",
    "MemoryStore",
    "OutlierPolicy",
    "Registry",
    "RetryBudgetPolicy",
    "RetryPolicy",
    "Service",
    "ServicePolicy",
    "SqliteStore",
    "WatchResult",
    "parse_instance",
    "parse_service",
]
