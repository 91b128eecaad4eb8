"""The listener: accepts connections, keeps the deadline sweep and the coarse clock, and
drains on stop. Each connection is a :class:`~meshkit.gateway.connection.ClientConnection`.

Accepting is the listener's own loop over a non-blocking socket (not ``create_server``), so
that it can *stop* accepting: at ``max_connections`` open, or when the process runs out of
file descriptors, it takes the socket out of the event loop and new clients wait in the
kernel's listen backlog until a connection closes (or, out of descriptors, a moment later)
— rather than being accepted and dropped with no answer. Each pause is logged, at most once
per ``_LOG_EVERY`` seconds. :func:`raise_open_file_limit` lifts the soft descriptor limit to
the hard one at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
import socket
import ssl
from typing import Any, Final, cast

from meshkit.clock import SYSTEM_CLOCK, Clock, TimerHandle
from meshkit.gateway.connection import ClientConnection
from meshkit.gateway.limits import DEFAULT_LIMITS, GatewayLimits
from meshkit.gateway.request_sink import Handler

__all__ = ["Listener", "default_max_connections", "raise_open_file_limit"]

_log = logging.getLogger("meshkit.gateway")

_SWEEP_INTERVAL: Final = 0.1  # how often the server looks for connections past their deadline
_ACCEPT_BATCH: Final = 64  # connections accepted per readiness event (as uvloop and nginx)
_RETRY_ACCEPT: Final = 0.1  # seconds before accepting again after running out of descriptors
_LOG_EVERY: Final = 10.0  # seconds between two log lines about not accepting
_OUT_OF_DESCRIPTORS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_DESCRIPTORS_KEPT: Final = 32  # for the listener, pools' growth, logs, the admin listener


def raise_open_file_limit() -> tuple[int, int]:
    """Lift the soft open-file limit to the hard one (a proxy needs two descriptors per
    request in flight; 1,024, a common default, is far too few). Returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return soft, soft
        return soft, wanted
    return soft, soft


def default_max_connections() -> int:
    """Half the open-file limit (less a reserve): each client may need an upstream too."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(8, (soft - _DESCRIPTORS_KEPT) // 2)


class Listener:
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
        self._socket: socket.socket | None = None
        # (Any: uvloop's remove_reader answers None where typeshed says bool, and a compiled
        # build checks)
        self._loop: Any = None
        self._ssl: ssl.SSLContext | None = None
        self._accepting = False
        self._retry: TimerHandle | None = None
        self._sweeper: TimerHandle | None = None
        self._logged = float("-inf")
        self.open = 0  # connections accepted and not yet closed (some still in a handshake)
        self.max_connections = limits.max_connections or default_max_connections()
        self.refusals = 0  # times accepting paused (at the limit or out of descriptors)
        self.now = clock.monotonic()  # refreshed by every sweep: 0.1 s resolution
        self.tls = False
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

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
        self._loop = asyncio.get_running_loop()
        self.tls = tls is not None
        self._ssl = tls
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.create_server(
            (host, port), family=family, backlog=4096, reuse_port=reuse_port
        )
        listening.setblocking(False)
        self._socket = listening
        self._port = int(listening.getsockname()[1])
        self._resume_accepting()
        self._sweep()

    def set_limits(self, limits: GatewayLimits) -> None:
        """New limits (a reload): connections made from now on use them."""
        self.limits = limits
        self.max_connections = limits.max_connections or default_max_connections()
        if self.open < self.max_connections:
            self._resume_accepting()

    # -- accepting ---------------------------------------------------------------------------
    def _accept(self) -> None:
        listening, loop = self._socket, self._loop
        assert listening is not None
        assert loop is not None
        for _ in range(_ACCEPT_BATCH):
            if self.open >= self.max_connections:
                self._pause_accepting(f"{self.open} connections open (max_connections)")
                return
            try:
                sock, _ = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    self._pause_accepting(f"out of file descriptors ({exc.strerror})")
                    self._retry = self.clock.call_later(_RETRY_ACCEPT, self._resume_accepting)
                    return
                continue  # ECONNABORTED and the like: that client is gone, the next may not be
            self.open += 1
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            loop.create_task(self._adopt(sock))

    async def _adopt(self, sock: socket.socket) -> None:
        loop = self._loop
        assert loop is not None
        try:
            await loop.connect_accepted_socket(
                lambda: cast(asyncio.Protocol, ClientConnection(self)), sock, ssl=self._ssl
            )
        except (OSError, ssl.SSLError, TimeoutError):
            sock.close()  # a failed TLS handshake, a client gone before we got to it
            self._closed_one()

    def _pause_accepting(self, why: str) -> None:
        if self._accepting and self._loop is not None and self._socket is not None:
            self._loop.remove_reader(self._socket)
            self._accepting = False
            self.refusals += 1
            now = self.clock.monotonic()
            if now - self._logged >= _LOG_EVERY:
                self._logged = now
                _log.warning("not accepting new connections for now: %s", why)

    def _resume_accepting(self) -> None:
        self._retry = None
        if self._accepting or self.draining or self._socket is None or self._loop is None:
            return
        self._accepting = True
        self._loop.add_reader(self._socket, self._accept)

    def connection_lost(self, connection: ClientConnection) -> None:
        self.connections.discard(connection)
        self._closed_one()

    def _closed_one(self) -> None:
        self.open -= 1
        if not self._accepting and self._retry is None and self.open < self.max_connections:
            self._resume_accepting()

    # -- deadlines and stopping ------------------------------------------------------------
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
        if self._retry is not None:
            self._retry.cancel()
        self._stop_listening()
        for connection in list(self.connections):
            if connection.idle:
                connection.close()  # idle keep-alive connections go at once
        waited = 0.0
        while self.in_flight and waited < deadline:
            await self.clock.sleep(0.01)
            waited += 0.01
        for connection in list(self.connections):
            connection.close()

    def _stop_listening(self) -> None:
        listening, self._socket = self._socket, None
        if listening is None:
            return
        if self._accepting and self._loop is not None:
            self._loop.remove_reader(listening)
            self._accepting = False
        with contextlib.suppress(OSError):
            listening.close()
