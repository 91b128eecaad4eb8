"""A gateway on 127.0.0.1 in front of real FakeUpstreams, and a raw-socket client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from meshkit.gateway import Gateway, parse_config
from meshkit.testing import FakeUpstream

StartGateway = Callable[..., Awaitable[Gateway]]
Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
RawGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def upstreams() -> AsyncIterator[list[FakeUpstream]]:
    servers = [await FakeUpstream(f"u{i}").start() for i in range(2)]
    yield servers
    for server in servers:
        await server.stop()


@pytest.fixture
async def start_gateway(upstreams: list[FakeUpstream]) -> AsyncIterator[StartGateway]:
    started: list[Gateway] = []

    async def start(
        limits: str = "{}",
        policy: str = "{algorithm: round_robin}",
        routes: str = "",
        admin: str = "null",
        extra: str = "",
    ) -> Gateway:
        instances = "\n".join(
            f"      - {{id: {u.name}, host: 127.0.0.1, port: {u.port}}}" for u in upstreams
        )
        text = f"""
listen: {{host: 127.0.0.1, port: 0}}
admin: {admin}
limits: {limits}
{extra}
services:
  - name: app
    policy: {policy}
    instances:
{instances}
routes:
{routes or "  - {name: r0, match: {prefix: /}, service: app}"}
"""
        gateway = Gateway(parse_config(text))
        await gateway.start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop(1.0)


@pytest.fixture
async def raw_gateway() -> AsyncIterator[RawGateway]:
    """``await raw_gateway(serve, policy=..., limits=..., route=...)``: a gateway whose only
    upstream runs ``serve(reader, writer)`` on each connection it gets — an upstream that
    misbehaves exactly as a test writes it."""
    servers: list[asyncio.Server] = []
    gateways: list[Gateway] = []

    async def start(
        serve: Serve,
        *,
        policy: str = "{max_attempts: 1}",
        limits: str = "{}",
        route: str = "",
        pool: str = "",
    ) -> Gateway:
        async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await serve(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(guarded, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        gateway = Gateway(
            parse_config(f"""
listen: {{host: 127.0.0.1, port: 0}}
limits: {limits}
services:
  - name: raw
    policy: {policy}
    {f"pool: {pool}" if pool else ""}
    instances: [{{id: raw-1, host: 127.0.0.1, port: {port}}}]
routes:
  - {{name: raw, match: {{prefix: /}}, service: raw{route}}}
""")
        )
        await gateway.start()
        gateways.append(gateway)
        return gateway

    yield start
    for gateway in gateways:
        await gateway.stop(1.0)
    for server in servers:
        server.close()


async def exchange(
    port: int, data: bytes, *, read_timeout: float = 5.0, until_close: bool = False
) -> tuple[bytes, bool]:
    """Send raw bytes; return what came back (one response, or everything until the server
    closes with ``until_close``) and whether the server closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    received = b""
    closed = False
    try:
        while True:
            async with asyncio.timeout(read_timeout):
                chunk = await reader.read(65536)
            if not chunk:
                closed = True
                break
            received += chunk
            if not until_close and _complete(received):
                # give a closing server a moment to close
                try:
                    async with asyncio.timeout(0.2):
                        closed = not await reader.read(1)
                except TimeoutError:
                    closed = False
                break
    finally:
        writer.close()
    return received, closed


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    if status_of(head) in (204, 304):
        return True  # no body, whatever the head says
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return body.endswith(b"0\r\n\r\n")


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick, released at once): for a process
    that needs a fixed port, without colliding with other test runs on the machine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])
