"""The listener: accepts connections, keeps the deadline sweep and the coarse clock, and
drains on stop. Each connection is a :class:`~meshkit.gateway.server.ClientConnection`."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any, cast

from meshkit.clock import SYSTEM_CLOCK, Clock, TimerHandle
from meshkit.gateway.limits import DEFAULT_LIMITS, GatewayLimits
from meshkit.gateway.server import ClientConnection, Handler

__all__ = ["GatewayServer"]

_SWEEP_INTERVAL = 0.1  # how often the server looks for connections past their deadline


class GatewayServer:
    """Listen on ``host:port`` and hand each request to ``handler``."""

    def __init__(
        self,
        handler: Handler,
        *,
        limits: GatewayLimits = DEFAULT_LIMITS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.clock = clock
        self.connections: set[ClientConnection] = set()
        self.in_flight = 0
        self.draining = False
        self._server: asyncio.Server | None = None
        self._sweeper: TimerHandle | None = None
        self.now = clock.monotonic()  # refreshed by every sweep: 0.1 s resolution
        self.tls = False

    @property
    def port(self) -> int:
        assert self._server is not None
        # uvloop answers lists where typeshed says tuples (and a compiled build checks)
        server: Any = self._server
        return int(server.sockets[0].getsockname()[1])

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        reuse_port: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """Listen (``tls``: terminate TLS with this context; ``reuse_port``: share the port
        with other worker processes, the kernel spreading connections among them)."""
        loop = asyncio.get_running_loop()
        self.tls = tls is not None
        self._server = await loop.create_server(
            lambda: cast(asyncio.Protocol, ClientConnection(self)),
            host,
            port,
            reuse_port=reuse_port or None,
            ssl=tls,
            backlog=4096,
        )
        self._sweep()

    def _sweep(self) -> None:
        """Close connections past their head or idle deadline; runs every 0.1 s. Also keeps
        :attr:`now`, the coarse time deadlines and pools use instead of reading the clock
        several times per request."""
        self.now = now = self.clock.monotonic()
        for connection in [c for c in self.connections if c.deadline_kind and c.deadline <= now]:
            connection.expired()
        self._sweeper = self.clock.call_later(_SWEEP_INTERVAL, self._sweep)

    async def stop(self, deadline: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish for up to ``deadline`` seconds, then
        close every connection."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            if connection.idle:
                connection.close()  # idle keep-alive connections go at once
        waited = 0.0
        while self.in_flight and waited < deadline:
            await self.clock.sleep(0.01)
            waited += 0.01
        for connection in list(self.connections):
            connection.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
