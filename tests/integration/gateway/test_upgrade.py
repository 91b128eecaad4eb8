"""Protocol upgrades (WebSocket) become a tunnel: bytes flow both ways until one end closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from meshkit.gateway import Gateway, parse_config

from .conftest import exchange, status_of


async def _echo_upgrade_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers an upgrade with 101, then echoes everything back in upper case."""
    head = await reader.readuntil(b"\r\n\r\n")
    if b"upgrade: websocket" not in head.lower():
        writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )
    await writer.drain()
    while data := await reader.read(1024):
        writer.write(data.upper())
        await writer.drain()
    writer.close()


@pytest.fixture
async def tunnel_gateway() -> AsyncIterator[Gateway]:
    upstream = await asyncio.start_server(_echo_upgrade_server, "127.0.0.1", 0)
    port = upstream.sockets[0].getsockname()[1]
    gateway = Gateway(
        parse_config(
            f"""
listen: {{host: 127.0.0.1, port: 0}}
services: [{{name: ws, instances: [{{id: w, host: 127.0.0.1, port: {port}}}]}}]
routes: [{{name: r0, match: {{prefix: /}}, service: ws}}]
"""
        )
    )
    await gateway.start()
    yield gateway
    await gateway.stop(1.0)
    upstream.close()


async def test_websocket_upgrade_tunnels_bytes_both_ways(tunnel_gateway: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", tunnel_gateway.port)
    writer.write(
        b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    async with asyncio.timeout(5):
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        assert b"upgrade: websocket" in head.lower()
        for message in (b"hello", b"tunnel"):
            writer.write(message)
            assert await reader.readexactly(len(message)) == message.upper()
    writer.close()


async def test_an_upgrade_with_a_body_is_refused(tunnel_gateway: Gateway) -> None:
    response, closed = await exchange(
        tunnel_gateway.port,
        b"POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Content-Length: 2\r\n\r\nhi",
    )
    assert status_of(response) == 400
    assert closed
