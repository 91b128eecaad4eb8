"""What a broken upstream found (issue: gateway hardening), each against an upstream written
to misbehave exactly so: endless heads, close-delimited bodies, protocol switches nobody
asked for, declined upgrades, framing on bodiless statuses, retries, pool sizes."""

from __future__ import annotations

import asyncio

import httpx

from meshkit.gateway import Gateway, parse_config
from meshkit.testing import FakeUpstream

from .conftest import RawGateway, StartGateway, exchange, status_of

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


async def test_an_endless_upstream_head_is_refused_as_it_arrives(
    raw_gateway: RawGateway,
) -> None:
    sent = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: ")
        while sent < 64 * 1024 * 1024:  # 64 MiB of one header line, never ended
            writer.write(b"a" * 65536)
            await writer.drain()
            sent += 65536

    gateway = await raw_gateway(serve)  # no route timeout: nothing else would end it
    response, _ = await exchange(gateway.port, GET)
    assert status_of(response) == 502
    assert sent < 4 * 1024 * 1024  # cut off after the 64 KiB limit, not at the end


async def test_a_body_ended_by_the_upstream_closing_arrives_whole(
    raw_gateway: RawGateway,
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello ")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"world")
        await writer.drain()
        writer.close()  # the close ends the body (no length, not chunked)

    gateway = await raw_gateway(serve)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        reply = await http.get("/")  # raises on a chunked body cut short
    assert reply.status_code == 200
    assert reply.text == "hello world"
    assert reply.headers["transfer-encoding"] == "chunked"


async def test_an_unsolicited_101_is_refused(raw_gateway: RawGateway) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: upgrade\r\n\r\n"
            b"RAW BYTES"
        )
        await writer.drain()
        await asyncio.sleep(1)

    gateway = await raw_gateway(serve)
    response, _ = await exchange(gateway.port, GET)
    assert status_of(response) == 502
    assert b"RAW BYTES" not in response


H2C = (
    b"GET /first HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
)


async def test_a_declined_upgrade_keeps_the_connection_serving(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(H2C)  # as `curl --http2` over plain http; the upstream answers 200
    async with asyncio.timeout(5):
        first = await reader.readuntil(b"GET /first")
    writer.write(b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
    async with asyncio.timeout(5):
        second = await reader.readuntil(b"GET /second")
    writer.close()
    assert status_of(first) == 200
    assert status_of(second) == 200


async def test_requests_pipelined_behind_a_declined_upgrade_are_answered(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway()
    response, closed = await exchange(
        gateway.port,
        H2C + b"GET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        until_close=True,
    )
    assert response.count(b"HTTP/1.1 200 OK") == 2
    assert b"GET /second" in response
    assert closed


async def test_statuses_without_a_body_carry_no_framing(raw_gateway: RawGateway) -> None:
    statuses = iter([b"204 No Content", b"304 Not Modified"])

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            status = next(statuses)
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: 5\r\nETag: x\r\n\r\n" % status)
            await writer.drain()

    gateway = await raw_gateway(serve)
    for status in (204, 304):
        response, closed = await exchange(gateway.port, GET, read_timeout=1)
        head = response.lower()
        assert status_of(response) == status
        assert b"content-length" not in head
        assert b"transfer-encoding" not in head
        assert b"etag: x" in head
        assert not closed


async def test_a_retry_goes_to_an_endpoint_not_tried_yet() -> None:
    """Ring hash maps one client to one endpoint: before, a retry went straight back."""
    one, other = FakeUpstream("one"), FakeUpstream("other")
    await one.start()
    await other.start()
    gateway = Gateway(
        parse_config(f"""
listen: {{host: 127.0.0.1, port: 0}}
services:
  - name: app
    policy: {{algorithm: ring_hash, max_attempts: 2, breaker: false}}
    instances:
      - {{id: one, host: 127.0.0.1, port: {one.port}}}
      - {{id: other, host: 127.0.0.1, port: {other.port}}}
routes:
  - {{name: all, match: {{prefix: /}}, service: app}}
""")
    )
    await gateway.start()
    try:
        mapped = gateway.mesh.route("app").balancer.pick(b"127.0.0.1").id  # this client's
        failing, healthy = (one, other) if mapped == "one" else (other, one)
        failing.status = 503
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
            replies = [await http.get(f"/{i}") for i in range(20)]
    finally:
        await gateway.stop(1.0)
        await one.stop()
        await other.stop()
    assert [r.status_code for r in replies] == [200] * 20
    assert healthy.requests == 20  # each first try failed there (until outlier detection
    assert failing.requests >= 1  # ejected it), each retry went to the other


async def test_pool_size_is_set_per_service_and_a_full_pool_answers_503(
    raw_gateway: RawGateway,
) -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while await reader.readuntil(b"\r\n\r\n"):
            await asyncio.sleep(0.3)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    gateway = await raw_gateway(serve, pool="{max_connections: 1}")
    first, second = await asyncio.gather(exchange(gateway.port, GET), exchange(gateway.port, GET))
    assert sorted([status_of(first[0]), status_of(second[0])]) == [200, 503]
    assert connections == 1
    refused = first[0] if status_of(first[0]) == 503 else second[0]
    assert b"retry-after: 1" in refused.lower()
    endpoint = gateway.mesh.route("raw").balancer.endpoints[0]
    assert gateway.mesh.route("raw").breaker_state(endpoint.id) is not None  # no failure...
    assert endpoint.available  # ...held against the endpoint for the gateway's own limit


async def test_the_endpoint_hears_of_every_answer_however_the_response_ends(
    raw_gateway: RawGateway,
) -> None:
    """The lease of an answered request is settled with its status even when the response
    is then cut (the upstream closing after its head, or mid-body): the endpoint's count of
    requests in flight goes back to zero."""
    cuts = iter([b"", b"12345"])

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + next(cuts))
            await writer.drain()
            return  # and close, before the body is whole

    gateway = await raw_gateway(serve)
    (endpoint,) = gateway.mesh.route("raw").balancer.endpoints
    for _ in range(2):
        await exchange(gateway.port, GET, until_close=True)
        assert endpoint.in_flight == 0
