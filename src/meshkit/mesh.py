"""``ServiceMesh``: the library face — registry, health checking and calls, wired together.

::

    async with ServiceMesh() as mesh:
        await mesh.register({"id": "orders-1", "service": "orders", "host": "10.0.0.5",
                             "port": 8080, "check": {"kind": "http", "path": "/health"}})
        order = await mesh.call("orders", fetch_order, "42")        # fetch_order(instance, "42")
        async with httpx.AsyncClient(transport=mesh.transport()) as http:
            reply = await http.get("http://orders/orders/42")       # host = service name

How the parts talk (all through plain callbacks and the event bus, no polling):

* the :class:`~meshkit.registry.Registry` holds the catalog; every catalog change for a
  service refreshes that service's :class:`~meshkit.client.ServiceRoute` (its balancer's
  endpoints and their health) and the health checker's targets;
* the :class:`~meshkit.health.HealthChecker` probes instances whose ``check`` asks for it;
  its verdicts become catalog health (so watchers see them) and so reach the balancer; a TTL
  instance stays critical past its ``deregister_after`` is deregistered;
* each call reports back to the balancer, the endpoint's breaker and outlier detection; a
  loop runs each service's statistical outlier detectors every ``interval`` of its own.
* a route is built from its service's policy (:class:`~meshkit.upstreams.RouteOptions`);
  ``outlier`` is the detection of services whose policy sets none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from meshkit.client.transport import MeshTransport
from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import InstanceNotFound
from meshkit.events import Event, EventBus
from meshkit.health import (
    DEFAULT_OUTLIER_OPTIONS,
    CheckTarget,
    HealthChecker,
    HealthStatusChanged,
    HttpCheck,
    HttpCheckOptions,
    OutlierOptions,
    TcpCheck,
    TTLCheck,
)
from meshkit.health.aggregate import ServiceHealth
from meshkit.registry import Catalog, CatalogChanged, ChangeKind, Instance, Registry, Service
from meshkit.registry.store import CatalogStore
from meshkit.upstreams.route_options import RouteOptions
from meshkit.upstreams.service_route import ServiceRoute

__all__ = ["ServiceMesh"]

T = TypeVar("T")


class ServiceMesh:
    """Discovery, health, balancing and resilience for in-process calls."""

    def __init__(
        self,
        store: CatalogStore | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
        outlier: OutlierOptions | None = DEFAULT_OUTLIER_OPTIONS,
        max_concurrent_checks: int = 64,
    ) -> None:
        self.clock = clock
        self.events = events if events is not None else EventBus()
        self.registry = Registry(store, clock=clock, events=self.events)
        self.health = HealthChecker(
            max_concurrent=max_concurrent_checks,
            clock=clock,
            events=self.events,
            on_change=self._health_changed,
            on_deregister=self._expired,
        )
        self._outlier = outlier
        self._routes: dict[str, ServiceRoute] = {}
        self._ttls: dict[str, TTLCheck] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._subscription = self.events.subscribe(self._catalog_changed, types=CatalogChanged)

    @property
    def catalog(self) -> Catalog:
        return self.registry.catalog

    # -- life --------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.registry.start()
        for service in self.catalog.services():
            self._refresh(service.name)
        await self.health.start()
        self._loop_task = asyncio.create_task(self._evaluate_outliers())

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self.health.stop()
        await self.registry.close()
        self._subscription.close()

    async def __aenter__(self) -> ServiceMesh:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- registration ------------------------------------------------------------------------
    async def register_service(self, service: Service | Mapping[str, Any]) -> Service:
        return await self.registry.register_service(service)

    async def register(self, instance: Instance | Mapping[str, Any]) -> Instance:
        return await self.registry.register(instance)

    async def deregister(self, instance_id: str) -> None:
        await self.registry.deregister(instance_id)

    async def deregister_service(self, name: str) -> None:
        """Remove a service and its instances (``ServiceNotFound`` if unknown)."""
        await self.registry.deregister_service(name)

    def heartbeat(self, instance_id: str) -> TTLCheck:
        """The TTL check of an instance registered with ``check.kind = "ttl"``: call its
        ``pass_()`` / ``warn()`` / ``fail()`` within the TTL."""
        try:
            return self._ttls[instance_id]
        except KeyError:
            raise InstanceNotFound(f"instance {instance_id!r} has no TTL check") from None

    def summary(self, service: str, *, degraded_below: float = 1.0) -> ServiceHealth:
        states = self.catalog.instances(service)
        return ServiceHealth.of((s.status for s in states), degraded_below=degraded_below)

    def route(self, service: str) -> ServiceRoute:
        """The route to ``service`` (its balancer, breakers, outlier detector)."""
        route = self._routes.get(service)
        if route is None:
            self.catalog.service(service)  # ServiceNotFound if unknown
            route = self._refresh(service)
        return route

    # -- calling -----------------------------------------------------------------------------
    async def call(
        self,
        service: str,
        fn: Callable[..., Awaitable[T]],
        /,
        *args: Any,
        key: bytes | None = None,
        classify: Callable[[Any], int | None] | None = None,
        **kwargs: Any,
    ) -> T:
        """``await fn(instance, *args, **kwargs)`` on an instance of ``service`` chosen by its
        balancer, under its policy. ``key``: the hashing key; ``classify``: reads an HTTP
        status from the result so 5xx count as failures and 429/503 back the balancer off."""
        route = self._routes.get(service) or self.route(service)
        result: T = await route.call(fn, args, kwargs, key=key, classify=classify)
        return result

    def transport(self, **kwargs: Any) -> MeshTransport:
        """An ``httpx.AsyncBaseTransport`` that sends ``http://<service>/...`` through the mesh."""
        return MeshTransport(self.call, **kwargs)

    # -- wiring ------------------------------------------------------------------------------
    def _catalog_changed(self, event: Event) -> None:
        assert isinstance(event, CatalogChanged)
        change = event.change
        if change.instance is not None:
            self._follow_checks(change.instance, present=change.kind.value != "removed")
        if change.kind is ChangeKind.SERVICE_UPDATED:
            # A new policy means a new route (balancer algorithm, breakers, retry); calls in
            # flight finish on the old one, which they hold.
            self._routes.pop(change.service, None)
        if self.catalog.has_service(change.service):
            self._refresh(change.service)
        else:
            self._routes.pop(change.service, None)

    def _refresh(self, service: str) -> ServiceRoute:
        route = self._routes.get(service)
        if route is None:
            record = self.catalog.service(service)
            options = RouteOptions.of(record.policy, clock=self.clock, outlier=self._outlier)
            route = ServiceRoute(record, clock=self.clock, events=self.events, options=options)
            self._routes[service] = route
        route.update(self.catalog.instances(service))
        return route

    def _follow_checks(self, instance: Instance, *, present: bool) -> None:
        spec = instance.check
        if not present or spec.kind == "none":
            self.health.remove(instance.id)
            self._ttls.pop(instance.id, None)
            return
        if instance.id in self.health:
            return
        target = CheckTarget(
            instance_id=instance.id, host=instance.host, port=instance.port, scheme=instance.scheme
        )
        if spec.kind == "ttl":
            ttl = self._ttls[instance.id] = TTLCheck(spec.ttl, clock=self.clock)
            self.health.add_ttl(target, ttl, deregister_critical_after=spec.deregister_after)
            return
        check = HttpCheck(HttpCheckOptions(path=spec.path)) if spec.kind == "http" else TcpCheck()
        self.health.add(target, check, spec.options())

    def _health_changed(self, event: HealthStatusChanged) -> None:
        instance_id = event.target.instance_id
        with contextlib.suppress(Exception):  # deregistered meanwhile
            self.registry.set_status(instance_id, event.current)

    async def _expired(self, target: CheckTarget) -> None:
        with contextlib.suppress(Exception):
            await self.registry.deregister(target.instance_id)

    async def _evaluate_outliers(self) -> None:
        # One loop for every service: it ticks as often as the shortest detection interval
        # asks, and each route runs its detectors when its own interval is up.
        while True:
            await self.clock.sleep(self._outlier_tick())
            now = self.clock.monotonic()
            for route in list(self._routes.values()):
                route.evaluate_outliers_if_due(now)

    def _outlier_tick(self) -> float:
        default = self._outlier if self._outlier is not None else DEFAULT_OUTLIER_OPTIONS
        intervals = [
            route.outlier.options.interval
            for route in self._routes.values()
            if route.outlier is not None
        ]
        return min(intervals, default=default.interval)

    def __repr__(self) -> str:
        return f"ServiceMesh(services={len(self._routes)}, registry={self.registry!r})"
