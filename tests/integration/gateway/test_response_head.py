"""Upstream response heads relayed to the client: hop-by-hop fields go whatever their
spelling, the rest pass byte for byte, framing is the gateway's — against a raw upstream
that answers exactly the bytes each test gives it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from meshkit.gateway import Gateway
from meshkit.gateway.response_head import watched_name

from .conftest import RawGateway, exchange, status_of

Answer = Callable[[bytes], Awaitable[Gateway]]


@pytest.fixture
def answering(raw_gateway: RawGateway) -> Answer:
    """``await answering(raw)``: a gateway whose only upstream answers every request with
    the bytes ``raw``."""

    async def start(raw: bytes) -> Gateway:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(raw)
                await writer.drain()

        return await raw_gateway(serve)

    return start


def head_lines(response: bytes) -> list[bytes]:
    return response.partition(b"\r\n\r\n")[0].split(b"\r\n")


@pytest.mark.parametrize(
    ("spelling", "watched"),
    [
        (b"Connection", b"connection"),
        (b"CONNECTION", b"connection"),
        (b"cOnNeCtIoN", b"connection"),
        (b"Content-Length", b"content-length"),
        (b"transfer-ENCODING", b"transfer-encoding"),
        (b"TE", b"te"),
        (b"Retry-After", b"retry-after"),
        (b"Content-Type", None),
        (b"Set-Cookie", None),  # a watched name's length, but not watched
        (b"X-Connection", None),
    ],
)
def test_watched_fields_are_found_in_any_spelling(spelling: bytes, watched: bytes | None) -> None:
    assert watched_name(spelling) == watched


async def test_hop_by_hop_fields_go_and_the_rest_pass_byte_for_byte(answering: Answer) -> None:
    gateway = await answering(
        b"HTTP/1.1 200 OK\r\n"
        b"Server: raw\r\n"
        b"KEEP-ALIVE: timeout=5\r\n"
        b"X-Mixed-Case: Value With  Spaces\r\n"
        b"Proxy-Connection: keep-alive\r\n"
        b"cOnNeCtIoN: keep-alive\r\n"
        b"Trailer: X-Checksum\r\n"
        b"Set-Cookie: a=b; Path=/\r\n"
        b"Content-Length: 5\r\n"
        b"\r\nhello"
    )
    response, closed = await exchange(gateway.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    lines = head_lines(response)
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert b"Server: raw" in lines
    assert b"X-Mixed-Case: Value With  Spaces" in lines
    assert b"Set-Cookie: a=b; Path=/" in lines
    assert b"content-length: 5" in lines
    assert any(line.startswith(b"x-request-id: ") for line in lines)
    lowered = [line.lower() for line in lines]
    for name in (b"keep-alive:", b"proxy-connection:", b"connection:", b"trailer:"):
        assert not any(line.startswith(name) for line in lowered), name
    assert response.endswith(b"\r\n\r\nhello")
    assert not closed


async def test_fields_named_by_connection_are_dropped_too(answering: Answer) -> None:
    gateway = await answering(
        b"HTTP/1.1 200 OK\r\nConnection: X-Internal, keep-alive\r\nX-Internal: secret\r\n"
        b"X-Public: shown\r\nContent-Length: 2\r\n\r\nok"
    )
    response, _ = await exchange(gateway.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"secret" not in response
    assert b"x-public: shown" in response.lower()
    assert response.endswith(b"\r\n\r\nok")


async def test_a_chunked_answer_is_relayed_chunked(answering: Answer) -> None:
    gateway = await answering(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    response, closed = await exchange(gateway.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.lower().count(b"transfer-encoding: chunked") == 1
    assert b"content-length" not in head.lower()
    chunks, rest = [], body
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    assert b"".join(chunks) == b"hello world"
    assert not closed


async def test_retry_after_reaches_the_client(answering: Answer) -> None:
    gateway = await answering(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n"
    )
    response, _ = await exchange(gateway.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == 429
    assert b"Retry-After: 7" in head_lines(response)


async def test_the_status_line_carries_the_standard_reason(answering: Answer) -> None:
    gateway = await answering(
        b"HTTP/1.1 301 Whatever\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    )
    response, _ = await exchange(gateway.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head_lines(response)[0] == b"HTTP/1.1 301 Moved Permanently"
    assert b"Location: /elsewhere" in head_lines(response)


async def test_an_oversized_upstream_head_is_a_502(answering: Answer) -> None:
    filler = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    gateway = await answering(b"HTTP/1.1 200 OK\r\n" + filler + b"Content-Length: 0\r\n\r\n")
    response, _ = await exchange(gateway.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == 502
    assert b"X-Filler" not in response
