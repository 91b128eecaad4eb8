"""The gateway: a request's way from the client, through a route and a service, and back.

Per request: match a route (404 if none) → ``mesh.call`` on the route's service, which picks an
instance with the service's balancer under its breakers, outlier detection, retry and timeout
→ the attempt sends the request over a pooled upstream connection (a stale keep-alive
connection is replaced once, for requests without a body) and returns when the response head
arrives, so breakers and balancers see the status → the response is relayed to the client,
streamed with back-pressure, framed by the gateway itself.

Every failure is answered from one table (:data:`ERROR_TABLE`) with a small JSON body carrying
the request id; nothing else — certainly no traceback — ever reaches a client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import uuid
from dataclasses import dataclass

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import (
    BulkheadFull,
    CircuitOpen,
    MeshError,
    NoHealthyEndpoint,
    PolicyRejected,
    RateLimited,
    ServiceNotFound,
    TimeoutExceeded,
    UpstreamError,
    UpstreamTimeout,
)
from meshkit.events import EventBus
from meshkit.gateway.config import GatewayConfig
from meshkit.gateway.http1 import (
    HttpError,
    ResponseHead,
    request_head_bytes,
    response_head_bytes,
)
from meshkit.gateway.router import Route, Router
from meshkit.gateway.server import Exchange, GatewayServer
from meshkit.gateway.upstream import (
    BadUpstreamResponse,
    EndpointPool,
    StaleConnection,
    UpstreamConnection,
)
from meshkit.mesh import ServiceMesh
from meshkit.registry import Instance

__all__ = ["ERROR_TABLE", "Gateway"]

_log = logging.getLogger("meshkit.gateway")

ERROR_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (CircuitOpen, 503, "circuit open"),
    (NoHealthyEndpoint, 503, "no healthy endpoint"),
    (ServiceNotFound, 503, "service not registered"),
    (RateLimited, 429, "rate limited"),
    (BulkheadFull, 503, "too many requests in flight"),
    (TimeoutExceeded, 504, "upstream timeout"),
    (UpstreamTimeout, 504, "upstream timeout"),
    (TimeoutError, 504, "upstream timeout"),
    (UpstreamError, 502, "bad gateway"),
    (PolicyRejected, 503, "refused"),
)
"""Exception type → (status, message), first match wins; anything else is a 500."""

_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(slots=True)
class _Upstream:
    pool: EndpointPool
    conn: UpstreamConnection
    head: ResponseHead
    head_only: bool


class _BodyAlreadySent(UpstreamError):
    """A retry was due, but the request's body has already been streamed upstream."""


class Gateway:
    """Everything ``meshkit run`` starts: the mesh, the routes, the listener."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.router = Router([route.build(i) for i, route in enumerate(config.routes)])
        self.mesh = ServiceMesh(clock=clock, events=events)
        self.server = GatewayServer(self.handle, limits=config.limits.build(), clock=clock)
        self._pools: dict[tuple[str, int], EndpointPool] = {}

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        await self.mesh.start()
        for service in self.config.services:
            await self.mesh.register_service({"name": service.name, "policy": service.policy})
            for instance in service.instances:
                await self.mesh.register({**instance.model_dump(), "service": service.name})
        listen = self.config.listen
        await self.server.start(listen.host, listen.port)

    async def stop(self, deadline: float = 10.0) -> None:
        await self.server.stop(deadline)
        for pool in self._pools.values():
            pool.close()
        await self.mesh.close()

    # -- one request -------------------------------------------------------------------------
    async def handle(self, exchange: Exchange) -> None:
        head = exchange.head
        request_id = head.header(b"x-request-id")
        request_id = request_id[:128] if request_id else _new_request_id()
        try:
            route = self.router.match(head)
            if route is None:
                raise HttpError(404, "no route", close=False)
            call = self.mesh.call(
                route.service,
                self._attempt,
                exchange,
                route,
                request_id,
                classify=_status,
            )
            if route.timeout is not None:
                async with asyncio.timeout(route.timeout):
                    upstream = await call
            else:
                upstream = await call
        except HttpError as exc:
            self._answer(exchange, exc.status, exc.reason, request_id)
            return
        except (MeshError, TimeoutError) as exc:
            status, message = _classify_error(exc)
            retry_after = getattr(exc, "retry_after", None)
            self._answer(exchange, status, message, request_id, retry_after=retry_after)
            return
        await self._relay(exchange, upstream, request_id)

    async def _attempt(
        self, instance: Instance, exchange: Exchange, route: Route, request_id: bytes
    ) -> _Upstream:
        head = exchange.head
        if head.has_body and exchange.head.extra.get("sent"):
            raise _BodyAlreadySent("the request body was already sent; not retrying")
        pool = self._pool(instance)
        head_only = head.method == b"HEAD"
        extra = _forwarding(exchange, request_id)
        target = route.upstream_target(head)
        for fresh in (False, True):
            conn = await pool.acquire()
            conn.begin(head_only=head_only)
            try:
                conn.write(
                    request_head_bytes(
                        head, target=target, host=head.host or instance.address.encode(),
                        extra=extra,
                    )
                )  # fmt: skip
                if head.has_body:
                    head.extra["sent"] = True
                    await _send_body(exchange, conn)
                response = await conn.response()
            except StaleConnection:
                pool.release(conn, reusable=False)
                if fresh or head.has_body:
                    raise
                continue  # the upstream closed an idle connection as we reused it
            except BaseException:
                pool.release(conn, reusable=False)
                raise
            return _Upstream(pool, conn, response, head_only)
        raise BadUpstreamResponse("unreachable")  # pragma: no cover

    async def _relay(self, exchange: Exchange, upstream: _Upstream, request_id: bytes) -> None:
        client = exchange.client
        head = exchange.head
        response = upstream.head
        no_body = (
            upstream.head_only
            or response.status in _NO_BODY_STATUSES
            or 100 <= response.status < 200
        )
        length = None if response.chunked else response.content_length
        http10 = head.version == "1.0"
        keep_alive = (
            head.keep_alive and not self.server.draining and not (http10 and length is None)
        )
        headers = [*response.headers, (b"x-request-id", request_id)]
        exchange.response_started = True
        head_bytes = response_head_bytes(
            response.status,
            headers,
            content_length=length,
            keep_alive=keep_alive,
            no_body=no_body,
            close_delimited=http10 and length is None,
        )
        conn = upstream.conn
        whole = None if no_body or length is None else conn.body.take_all()
        if whole is not None:  # the whole response is here: one write, no more waiting
            client.write(head_bytes + whole)
            no_body = True
        else:
            client.write(head_bytes)
        try:
            if not no_body:
                chunked = length is None and not http10
                async for chunk in conn.body:
                    client.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    await client.drain()
                if chunked:
                    client.write(b"0\r\n\r\n")
        except BaseException:
            upstream.pool.release(conn, reusable=False)
            client.close()  # the response is cut: the client must see it
            raise
        reusable = response.keep_alive and not upstream.head_only
        upstream.pool.release(conn, reusable=reusable)
        if not keep_alive:
            client.close()

    def _answer(
        self,
        exchange: Exchange,
        status: int,
        message: str,
        request_id: bytes,
        *,
        retry_after: float | None = None,
    ) -> None:
        body = json.dumps({"error": message, "request_id": request_id.decode("latin-1")}).encode()
        headers = [(b"content-type", b"application/json"), (b"x-request-id", request_id)]
        if retry_after is not None:
            headers.append((b"retry-after", b"%d" % max(1, round(retry_after))))
        keep_alive = exchange.head.keep_alive and exchange.body.done and not self.server.draining
        exchange.response_started = True
        exchange.client.write(
            response_head_bytes(status, headers, content_length=len(body), keep_alive=keep_alive)
            + body
        )
        if not keep_alive:
            exchange.client.close()

    def _pool(self, instance: Instance) -> EndpointPool:
        key = (instance.host, instance.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = EndpointPool(instance.host, instance.port, clock=self.clock)
        return pool


async def _send_body(exchange: Exchange, conn: UpstreamConnection) -> None:
    chunked = exchange.head.chunked
    async for chunk in exchange.body:
        conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        await conn.drain()
    if chunked:
        conn.write(b"0\r\n\r\n")


def _forwarding(exchange: Exchange, request_id: bytes) -> list[tuple[bytes, bytes]]:
    """Forwarding headers for the upstream, computed once per request (retries reuse them)."""
    head = exchange.head
    cached = head.extra.get("forwarding")
    if isinstance(cached, list):
        return cached
    prior = head.header(b"x-forwarded-for")
    peer = exchange.peer.encode()
    extra = [
        (b"x-forwarded-for", prior + b", " + peer if prior else peer),
        (b"x-forwarded-proto", b"http"),
        (b"x-forwarded-host", head.host),
    ]
    if head.header(b"x-request-id") is None:
        extra.append((b"x-request-id", request_id))
    # The client's own X-Forwarded-* are replaced by ours (the chain above is kept in -For).
    head.headers = [(k, v) for k, v in head.headers if not k.lower().startswith(b"x-forwarded-")]
    head.extra["forwarding"] = extra
    return extra


_REQUEST_ID_PREFIX = uuid.uuid4().hex[:16]
_request_counter = itertools.count(1)


def _new_request_id() -> bytes:
    """Unique per gateway process and request: a random prefix and a counter (uuid4 per
    request costs more than the rest of the id handling together)."""
    return b"%s%08x" % (_REQUEST_ID_PREFIX.encode(), next(_request_counter))


def _status(upstream: _Upstream) -> int:
    return upstream.head.status


def _classify_error(exc: BaseException) -> tuple[int, str]:
    for kind, status, message in ERROR_TABLE:
        if isinstance(exc, kind):
            return status, message
    _log.error("unexpected error %r", exc)
    return 500, "internal error"
