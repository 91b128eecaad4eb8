"""The admin listener: ``GET /metrics`` in the Prometheus text format, and ``/healthz``.

A deliberately small asyncio server (the full admin API comes with the control plane): it
answers one request per connection and renders the registry only when scraped.
"""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

__all__ = ["MetricsServer"]

_MAX_HEAD = 16 * 1024


class MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
            parts = head.split(b" ", 2)
            path = parts[1].split(b"?", 1)[0] if len(parts) > 1 else b""
            if parts[0] != b"GET" or path not in (b"/metrics", b"/healthz"):
                body, status, kind = b"not found\n", b"404 Not Found", b"text/plain"
            elif path == b"/healthz":
                body, status, kind = b"ok\n", b"200 OK", b"text/plain"
            else:
                body = generate_latest(self.registry)
                status, kind = b"200 OK", CONTENT_TYPE_LATEST.encode()
            writer.write(
                b"HTTP/1.1 %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (status, kind, len(body), body)
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()
