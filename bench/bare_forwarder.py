"""The Python floor: a keep-alive forwarder on uvloop + httptools with no features at all.

No routing, no limits, no header edits, no retries, no metrics: each request's bytes go as
they are to one upstream over a pooled keep-alive connection, and the response's bytes come
back as they are. What any Python proxy on this stack can reach; ``bench/gateway.py``
measures meshkit against it. Run: ``python bench/bare_forwarder.py LISTEN_PORT UPSTREAM_PORT``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httptools
import uvloop

idle: list[Upstream] = []


class Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.chunks: list[bytes] = []
        self.client: Client | None = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        client, self.client = self.client, None
        response, self.chunks = b"".join(self.chunks), []
        idle.append(self)
        if client is not None:
            client.transport.write(response)


class Client(asyncio.Protocol):
    def __init__(self, port: int) -> None:
        self.port = port
        self.parser = httptools.HttpRequestParser(self)
        self.chunks: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        request, self.chunks = b"".join(self.chunks), []
        if idle:
            upstream = idle.pop()
            upstream.client = self
            upstream.transport.write(request)
        else:
            asyncio.get_running_loop().create_task(self.connect(request))

    async def connect(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        _, upstream = await loop.create_connection(Upstream, "127.0.0.1", self.port)
        upstream.client = self
        upstream.transport.write(request)


async def main(listen: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Client(upstream_port), "127.0.0.1", listen, backlog=4096
    )
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
