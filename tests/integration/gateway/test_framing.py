"""Requests the gateway must refuse, each over a real socket: framing that could be read two
ways (request smuggling), and limits on size and time."""

from __future__ import annotations

import pytest

from .conftest import StartGateway, exchange, status_of

GOOD = b"GET / HTTP/1.1\r\nHost: a\r\n"

SMUGGLING = {
    "content-length and transfer-encoding": (
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n"
    ),
    "duplicate content-length": (
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
    ),
    "differing content-length": (
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
    ),
    "signed content-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
    "hex content-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc",
    "underscore content-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n",
    "spaced content-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3 \r\n\r\nabc",
    "overflowing content-length": (
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"
    ),
    "transfer-encoding not chunked": (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"
    ),
    "transfer-encoding list": (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
    ),
    "signed chunk size": (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n"
    ),
    "hex-prefixed chunk size": (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n"
    ),
    "overflowing chunk size": (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"fffffffffffffffffff\r\nabc\r\n0\r\n\r\n"
    ),
    "obs-fold": GOOD + b"X-A: b\r\n  c\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: a\n\n",
    "NUL in a value": GOOD + b"X-A: b\x00c\r\n\r\n",
    "CR in a value": GOOD + b"X-A: b\rc\r\n\r\n",
    "space before the colon": GOOD + b"X-A : b\r\n\r\n",
    "invalid method": b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n",
    "invalid target": b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n",
    "no host": b"GET / HTTP/1.1\r\n\r\n",
    "two hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "absolute target with another host": b"GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", SMUGGLING.values(), ids=SMUGGLING.keys())
async def test_ambiguous_framing_is_refused_and_the_connection_closed(
    start_gateway: StartGateway, request_bytes: bytes
) -> None:
    gateway = await start_gateway()
    response, closed = await exchange(gateway.port, request_bytes)
    assert status_of(response) == 400
    assert closed
    assert b"Traceback" not in response


async def test_a_good_request_on_the_same_gateway_works(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    response, closed = await exchange(gateway.port, GOOD + b"\r\n")
    assert status_of(response) == 200
    assert not closed


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (GOOD + b"X-Big: " + b"v" * 300 + b"\r\n\r\n", 431),
        (GOOD + b"".join(b"X-%d: v\r\n" % i for i in range(12)) + b"\r\n", 431),
        (GOOD + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 100) for i in range(8)) + b"\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n", 413),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"400\r\n"
            + b"x" * 1024
            + b"\r\n"
            + b"400\r\n"
            + b"x" * 1024
            + b"\r\n0\r\n\r\n",
            413,
        ),
    ],
    ids=[
        "request line",
        "header line",
        "header count",
        "headers total",
        "content-length",
        "chunked body",
    ],
)
async def test_limits(start_gateway: StartGateway, request_bytes: bytes, status: int) -> None:
    gateway = await start_gateway(
        limits="{max_request_line: 256, max_header_line: 256, max_headers: 10, "
        "max_headers_size: 600, max_body: 1500}"
    )
    response, closed = await exchange(gateway.port, request_bytes)
    assert status_of(response) == status
    assert closed


async def test_a_slow_head_gets_408(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(limits="{header_timeout: 0.2}")
    response, closed = await exchange(gateway.port, b"GET / HTTP/1.1\r\nHost: a\r\n")
    assert status_of(response) == 408
    assert closed


async def test_a_stalled_body_gets_408(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(limits="{body_timeout: 0.2}")
    response, closed = await exchange(
        gateway.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"
    )
    assert status_of(response) == 408
    assert closed
    assert gateway.listener.in_flight == 0


async def test_keep_alive_and_pipelining(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    two = GOOD + b"\r\n" + b"GET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    response, closed = await exchange(gateway.port, two, read_timeout=2, until_close=True)
    assert closed  # the second asked to close
    assert response.count(b"HTTP/1.1 200") == 2
    assert b"GET /second" in response


async def test_expect_100_continue(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    response, _ = await exchange(
        gateway.port,
        b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
        b"Connection: close\r\n\r\nabc",
        until_close=True,
    )
    assert response.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200")
