"""One fuzz input against a real gateway object, on in-memory transports.

A :class:`~meshkit.gateway.Gateway` is built from a real config (one route with the
identity filters, a rate limit and header edits; one service); a
:class:`~meshkit.gateway.connection.ClientConnection` is fed the client's bytes in the pieces the
input chooses, and a pooled :class:`~meshkit.gateway.upstream.UpstreamConnection` — waiting
idle in the service's pool, so no socket is opened — answers with the upstream's bytes, then
closes. Nothing is mocked but the two transports.

What must hold for every input (a violation raises, and the fuzzer reports it):

* no exception escapes a protocol callback (asyncio would only log it, and the connection
  would be left in an unknown state);
* whatever the client receives starts as an HTTP/1.1 response, holds no traceback, and — for
  requests other than HEAD — parses as HTTP/1.1 responses up to where it stops;
* once both connections are gone, no request is left counted in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httptools

from meshkit.gateway import Gateway, parse_config
from meshkit.gateway.connection import ClientConnection
from meshkit.gateway.upstream import UpstreamConnection

__all__ = ["CONFIG", "Harness"]

CONFIG = """
listen: {host: 127.0.0.1, port: 0}
services:
  - name: app
    policy: {max_attempts: 2, algorithm: round_robin}
    instances: [{id: app-1, host: 127.0.0.1, port: 9}]
routes:
  - name: api
    match: {prefix: /api, methods: [GET, POST, HEAD, PUT]}
    service: app
    rate_limit: {rate: 1000000/second, key: ip}
    request_headers: {add: {x-env: fuzz}, remove: [x-drop]}
    response_headers: {add: {x-served-by: meshkit}}
  - name: rest
    match: {prefix: /}
    service: app
"""


class MemoryTransport:
    """What a protocol needs of a transport, kept in memory."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.out = bytearray()
        self.closed = False
        self.write_closed = False
        self.paused = False

    def write(self, data: bytes) -> None:
        assert not self.write_closed, "written after write_eof"
        if not self.closed:
            self.out += data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.write_closed = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


class Harness:
    """A gateway built once; :meth:`run` plays one input against it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.gateway = Gateway(parse_config(CONFIG))
        # (listens on a free loopback port that nothing connects to: the inputs go straight
        # to the protocol objects)
        self.loop.run_until_complete(self.gateway.start())

    def run(self, client: list[bytes], upstream: list[bytes]) -> None:
        self.loop.run_until_complete(self._play(client, upstream))

    async def _play(self, client: list[bytes], upstream: list[bytes]) -> None:
        server = self.gateway.listener
        pool = self.gateway.pool("app", "127.0.0.1", 9)
        backend = UpstreamConnection()
        backend_transport = MemoryTransport(backend)
        backend.connection_made(backend_transport)
        backend.complete = True
        pool.total += 1
        pool.release(backend, reusable=True)
        connection = ClientConnection(server)
        transport = MemoryTransport(connection)
        connection.connection_made(transport)
        for piece in client:
            if transport.closed:
                break
            connection.data_received(piece)
            await asyncio.sleep(0)
        if not backend_transport.closed and backend.sink is not None:
            for piece in upstream:
                if backend_transport.closed:
                    break
                backend.data_received(piece)
                await asyncio.sleep(0)
        if not backend_transport.closed:
            backend_transport.close()  # the upstream closes: ends a close-delimited body
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        if not transport.closed:
            connection.eof_received()
            transport.close()
        for _ in range(3):
            await asyncio.sleep(0)
        pool.close()
        self._check(b"".join(client), bytes(transport.out))
        assert server.in_flight == 0, f"{server.in_flight} requests left in flight"

    @staticmethod
    def _check(sent: bytes, received: bytes) -> None:
        if not received:
            return
        assert received.startswith(b"HTTP/1.1 "), received[:80]
        assert b"Traceback" not in received
        if b"HEAD" in sent or b"pgrade" in sent:
            return  # a HEAD answer's length, a tunnel's raw bytes: not for a plain parser
        parser = httptools.HttpResponseParser(object())  # raises if it is not HTTP/1.1
        with contextlib.suppress(httptools.HttpParserUpgrade):
            parser.feed_data(received)
