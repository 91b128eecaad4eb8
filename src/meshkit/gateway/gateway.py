"""The gateway: the mesh, the routes, the upstream pools and the listener, wired together.

Each request becomes an :class:`~meshkit.gateway.exchange.Exchange` (see there, and
:mod:`~meshkit.gateway.filter_chain` for its phases). This module holds what all requests
share: the error table, the upstream connection pools per endpoint, request ids, and the
forwarding headers.

Every failure is answered from one table (:mod:`meshkit.error_table`) with a small JSON body
carrying the request id; nothing else — certainly no traceback — ever reaches a client.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
from collections.abc import Callable, Iterator

from prometheus_client.registry import CollectorRegistry

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.error_table import ERROR_TABLE
from meshkit.errors import (
    ConfigError,
)
from meshkit.events import EventBus
from meshkit.gateway import reconcile
from meshkit.gateway.config import GatewayConfig, PoolConfig
from meshkit.gateway.connection import ClientConnection
from meshkit.gateway.exchange import Exchange
from meshkit.gateway.forwarded import client_address, forwarded_for
from meshkit.gateway.http1 import RequestHead
from meshkit.gateway.identity import Identities
from meshkit.gateway.listener import Listener
from meshkit.gateway.router import Router
from meshkit.gateway.upstream import EndpointPool
from meshkit.mesh import ServiceMesh
from meshkit.observability import GatewayCollector, MetricsServer, RequestStats
from meshkit.observability.stats import stats_of
from meshkit.resilience.breaker import CircuitState

__all__ = ["ERROR_TABLE", "Gateway"]


# The table lives in meshkit.error_table (both faces answer from it); re-exported here.


_DEFAULT_POOL = PoolConfig()


def _networks(config: GatewayConfig) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in config.trusted_proxies]


class Gateway:
    """Everything ``meshkit run`` starts: the mesh, the routes, the listener."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.monotonic = clock.monotonic  # read per request: the bound method, looked up once
        self.mesh = ServiceMesh(clock=clock, events=events)
        self.events = events
        self.router = Router(
            [route.build(i, clock=clock, events=events) for i, route in enumerate(config.routes)]
        )
        self.listener = Listener(self._exchange, limits=config.limits.build(), clock=clock)
        self._pools: dict[tuple[str, str, int], EndpointPool] = {}
        # The same pools by service and endpoint id: two lookups of strings whose hashes are
        # cached, where the (service, host, port) key is a tuple built and hashed per request.
        self._pools_by_id: dict[str, dict[str, EndpointPool]] = {}
        self._trusted = _networks(config)
        self.behind_proxies = bool(self._trusted)  # trusted proxies are configured
        self.rng = rng if rng is not None else random.Random()  # weighted splits draw from it
        self.unrouted = RequestStats()  # requests no route took (404, 405)
        self._scheme = b"http"  # X-Forwarded-Proto: what the listener speaks (set at start)
        self._trusted_cache: dict[str, bool] = {}
        self.registry = CollectorRegistry()
        self.registry.register(
            GatewayCollector(
                routes=lambda: ((r.name, r.stats) for r in self.router.routes),
                endpoints=self._endpoint_stats,
                pools=lambda: list(self._pools.values()),
                in_flight=lambda: self.listener.in_flight,
                unrouted=lambda: self.unrouted,
            )
        )
        self.metrics = MetricsServer(self.registry) if config.admin is not None else None
        self.identities = Identities()
        # Told of every exchange's state change, when set (tests walk the state table with it).
        self.watch_transitions: Callable[[Exchange, int, int], None] | None = None

    @property
    def port(self) -> int:
        return self.listener.port

    async def start(self, *, reuse_port: bool = False) -> None:
        await self.mesh.start()
        await reconcile.apply(self.mesh, reconcile.plan(self.mesh, self.config.services))
        listen = self.config.listen
        tls = listen.tls.context() if listen.tls is not None else None
        await self.listener.start(listen.host, listen.port, reuse_port=reuse_port, tls=tls)
        self._scheme = b"https" if self.listener.tls else b"http"
        admin = self.config.admin
        if self.metrics is not None and admin is not None:
            await self.metrics.start(admin.host, admin.port)

    async def reload(self, config: GatewayConfig) -> None:
        """Switch to ``config`` (already validated) without dropping a request.

        Requests in flight finish on the routes and services they started with; new ones
        use the new routes at once. Services and instances are registered, updated or
        deregistered to match; route statistics carry over by route name. The listener's
        and admin's addresses are fixed for the process: a change there is refused.
        """
        if config.listen != self.config.listen or config.admin != self.config.admin:
            raise ConfigError(
                "listen and admin addresses cannot change on reload; restart instead",
                option="listen",
            )
        # Everything is built and checked first; the mesh changes all together or not at all
        # (see reconcile); only then is the new config swapped in.
        old_stats = {route.name: route.stats for route in self.router.routes}
        routes = []
        for index, route_spec in enumerate(config.routes):
            route = route_spec.build(index, clock=self.clock, events=self.events)
            if route.name in old_stats:
                route = dataclasses.replace(route, stats=old_stats[route.name])
            routes.append(route)
        limits = config.limits.build()
        await reconcile.apply(self.mesh, reconcile.plan(self.mesh, config.services))
        self.router = Router(routes)  # one assignment: each request sees old or new, whole
        self.listener.set_limits(limits)
        self._trusted = _networks(config)
        self.behind_proxies = bool(self._trusted)
        self._trusted_cache = {}
        self.config = config
        self._prune_pools(config)

    def _prune_pools(self, config: GatewayConfig) -> None:
        """Close the pools of endpoints no longer configured (their series go with them);
        apply pool options that changed to the rest."""
        wanted = {
            (service.name, instance.host, instance.port): service.pool
            for service in config.services
            for instance in service.instances
        }
        self._pools_by_id = {}  # (an endpoint id may now name another address)
        for key in [k for k in self._pools if k not in wanted]:
            self._pools.pop(key).close()
        for key, pool in self._pools.items():
            options = wanted[key]
            pool.max_total = options.max_connections
            pool.max_idle = options.max_idle
            pool.idle_timeout = options.idle_timeout
            pool.connect_timeout = options.connect_timeout

    async def stop(self, deadline: float = 10.0) -> None:
        if self.metrics is not None:
            await self.metrics.stop()
        await self.listener.stop(deadline)
        for pool in self._pools.values():
            pool.close()
        await self.mesh.close()

    # -- shared by the exchanges -------------------------------------------------------------
    def _exchange(self, head: RequestHead, client: ClientConnection) -> Exchange:
        return Exchange(self, head, client)

    def _endpoint_stats(
        self,
    ) -> Iterator[tuple[str, str, RequestStats, bool, CircuitState | None]]:
        for service in self.mesh.catalog.services():
            route = self.mesh.route(service.name)
            for endpoint in route.balancer.endpoints:
                breaker = route.breaker_state(endpoint.id)
                yield service.name, endpoint.id, stats_of(endpoint), endpoint.available, breaker

    def endpoint_pool(self, service: str, endpoint_id: str, host: str, port: int) -> EndpointPool:
        """:meth:`pool`, found by the endpoint's id (what each request asks)."""
        pools = self._pools_by_id.get(service)
        if pools is None:
            pools = self._pools_by_id[service] = {}
        pool = pools.get(endpoint_id)
        if pool is None:
            pool = pools[endpoint_id] = self.pool(service, host, port)
        return pool

    def pool(self, service: str, host: str, port: int) -> EndpointPool:
        """The connections to one endpoint of ``service`` (made on first use)."""
        key = (service, host, port)
        pool = self._pools.get(key)
        if pool is None:
            listener = self.listener
            options = next(
                (s.pool for s in self.config.services if s.name == service), _DEFAULT_POOL
            )
            pool = self._pools[key] = EndpointPool(
                host,
                port,
                service=service,
                max_idle=options.max_idle,
                max_total=options.max_connections,
                idle_timeout=options.idle_timeout,
                connect_timeout=options.connect_timeout,
                clock=self.clock,
                now=lambda: listener.now,
            )
        return pool

    def trusted(self, peer: str) -> bool:
        """Whether ``peer`` is a proxy whose ``X-Forwarded-*`` headers are believed."""
        known = self._trusted_cache.get(peer)
        if known is None:
            try:
                address = ipaddress.ip_address(peer)
            except ValueError:
                known = False
            else:
                known = any(address in network for network in self._trusted)
            if len(self._trusted_cache) < 10_000:
                self._trusted_cache[peer] = known
        return known

    def client_address(self, head: RequestHead, client: ClientConnection) -> str:
        """The client's address for per-IP limits and hashing (see
        :mod:`~meshkit.gateway.forwarded`)."""
        if not self.behind_proxies:
            return client.peer
        chain = forwarded_for(head.header(b"x-forwarded-for"), head.header(b"forwarded"))
        return client_address(client.peer, chain, self.trusted)

    def forwarding(
        self, head: RequestHead, client: ClientConnection, request_id: bytes, serial: bytes
    ) -> list[bytes]:
        """Forwarding header lines for the upstream, as pieces of bytes to join into the head
        (the identity filter asks once per request; retries reuse them). From a trusted proxy the
        ``X-Forwarded-For`` chain grows by the peer and its ``-Proto`` / ``-Host`` are kept;
        from anyone else they are replaced by what the gateway saw (the client's own copies
        are never relayed: see ``http1._NOT_RELAYED``). ``traceparent`` continues the
        client's trace with a new span id for this hop (or starts a trace); ``tracestate``
        passes through untouched."""
        address = client.peer_bytes
        trusted = bool(self._trusted) and self.trusted(client.peer)
        prior = head.header(b"x-forwarded-for") if trusted else None
        scheme = self._scheme
        proto = (head.header(b"x-forwarded-proto") if trusted else None) or scheme
        host = (head.header(b"x-forwarded-host") if trusted else None) or head.host
        lines = [
            b"x-forwarded-for: ",
            prior + b", " + address if prior else address,
            b"\r\nx-forwarded-proto: ",
            proto,
            b"\r\nx-forwarded-host: ",
            host,
            b"\r\n",
        ]
        if head.header(b"x-request-id") is None:
            lines += (b"x-request-id: ", request_id, b"\r\n")
        traceparent = self.identities.traceparent(head.header(b"traceparent"), serial)
        lines += (b"traceparent: ", traceparent, b"\r\n")
        return lines
