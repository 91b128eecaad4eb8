"""What a hostile or clumsy client found (issue: gateway hardening), each over a real socket:
head limits enforced as bytes arrive, pipelined refusals in order, 100-continue only once
admitted, header names with underscores, half-closed clients, slow bodies."""

from __future__ import annotations

import asyncio
import socket

import pytest

from meshkit.testing import FakeUpstream

from .conftest import StartGateway, exchange, status_of

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


async def _send_unended_line(port: int, first: bytes, *, total: int) -> tuple[bytes, int]:
    """Send ``first`` then up to ``total`` bytes of one line that never ends, 64 KiB at a
    time; return the answer and how much of the line had gone out when it came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first)
    sent = 0
    answer = b""
    try:
        while sent < total:
            writer.write(b"a" * 65536)
            await writer.drain()
            sent += 65536
            try:
                async with asyncio.timeout(0.01):
                    answer = await reader.read(65536)
            except TimeoutError:
                continue
            break
        if not answer:
            async with asyncio.timeout(5):
                answer = await reader.read(65536)
    except ConnectionError:
        async with asyncio.timeout(5):
            answer = await reader.read(65536)
    finally:
        writer.close()
    return answer, sent


@pytest.mark.parametrize(
    "first",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ",  # one header line that never ends
        b"GET / HTTP/1.1\r\nHost: a\r\n",  # a header name that never ends
    ],
    ids=["value", "name"],
)
async def test_an_endless_header_line_is_refused_as_it_arrives(
    start_gateway: StartGateway, first: bytes
) -> None:
    gateway = await start_gateway(limits="{header_timeout: 30}")
    answer, sent = await _send_unended_line(gateway.port, first, total=16 * 1024 * 1024)
    assert status_of(answer) == 431
    assert sent <= 4 * 65536  # long before the 16 MiB: not when the line ends (it never does)


async def test_a_client_still_sending_receives_the_refusal(start_gateway: StartGateway) -> None:
    """The gateway ends its side and drops what still arrives for a moment before closing:
    closed at once with unread bytes, the kernel would reset the connection and the client
    would never see the 431 (nginx's lingering close)."""
    gateway = await start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ")
    try:
        for _ in range(64):  # 4 MiB, written without reading anything in between
            writer.write(b"a" * 65536)
            await writer.drain()
    except ConnectionError:
        pass
    async with asyncio.timeout(5):
        answer = await reader.read()
    writer.close()
    assert status_of(answer) == 431


async def test_headers_over_the_total_are_refused_before_the_head_ends(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(
        limits="{header_timeout: 30, max_header_line: 8192, max_headers_size: 20000}"
    )
    lines = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 7000) for i in range(2))
    answer, _ = await _send_unended_line(
        gateway.port, b"GET / HTTP/1.1\r\nHost: a\r\n" + lines + b"X-Last: ", total=8000
    )
    assert status_of(answer) == 431


async def test_a_pipelined_head_after_a_large_body_is_not_mistaken_for_a_long_line(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway()
    body = b"x" * 20000  # no line end in it: only the new head's bytes are its line
    post = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(post + b"GET /second HT")
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(b"TP/1.1\r\nHost: a\r\n\r\n")
    received = b""
    async with asyncio.timeout(5):
        while received.count(b"HTTP/1.1 200") < 2:
            chunk = await reader.read(65536)
            assert chunk, received
            received += chunk
    writer.close()
    assert b"GET /second" in received


async def test_a_malformed_request_behind_a_good_one_is_answered_after_it(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway()
    response, closed = await exchange(
        gateway.port, GET + b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", until_close=True
    )
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    second = response[response.index(b"HTTP/1.1", 10) :]
    assert status_of(second) == 400
    assert closed


async def test_several_good_requests_before_a_malformed_one_are_all_answered_in_order(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway()
    good = [b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(3)]
    bad = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    response, closed = await exchange(gateway.port, b"".join(good) + bad, until_close=True)
    statuses = [int(part[:3]) for part in response.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [200, 200, 200, 400]
    assert [b"GET /%d" % i in response for i in range(3)] == [True] * 3
    assert closed


async def test_an_unrouted_request_gets_no_100_continue(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(routes="  - {name: only, match: {prefix: /up}, service: app}")
    response, closed = await exchange(
        gateway.port,
        b"POST /elsewhere HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    )
    assert status_of(response) == 404
    assert b"100 Continue" not in response
    assert closed  # the body it did not send cannot be told from the next request


async def test_a_rate_limited_request_gets_no_100_continue(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(
        routes="  - {name: r, match: {prefix: /}, service: app, "
        "rate_limit: {rate: 1/minute, key: route}}"
    )
    first, _ = await exchange(gateway.port, GET)
    assert status_of(first) == 200  # the one request a minute
    second, _ = await exchange(
        gateway.port,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    )
    assert status_of(second) == 429
    assert b"100 Continue" not in second


async def test_an_admitted_request_gets_100_continue_and_the_upstream_no_expect(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    async with asyncio.timeout(5):
        interim = await reader.readuntil(b"\r\n\r\n")
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"abc")
    async with asyncio.timeout(5):
        final = await reader.readuntil(b"body=3")
    writer.close()
    assert status_of(final) == 200
    assert not any("expect" in u.last_headers for u in upstreams)


@pytest.mark.parametrize(
    ("action", "status", "passed"),
    [("drop", 200, False), ("allow", 200, True), ("reject", 400, False)],
)
async def test_header_names_with_underscores(
    start_gateway: StartGateway,
    upstreams: list[FakeUpstream],
    action: str,
    status: int,
    passed: bool,
) -> None:
    limits = "{}" if action == "drop" else f"{{headers_with_underscores: {action}}}"
    gateway = await start_gateway(limits=limits)
    response, _ = await exchange(
        gateway.port, b"GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 6.6.6.6\r\nX-Ok: 1\r\n\r\n"
    )
    assert status_of(response) == status
    if status == 200:
        seen = next(u.last_headers for u in upstreams if u.last_headers)
        assert ("x_forwarded_for" in seen) is passed
        assert seen["x-ok"] == "1"
        assert "6.6.6.6" not in seen.get("x-forwarded-for", "")


async def test_a_half_closed_client_is_answered(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(GET + b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n")
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.shutdown(socket.SHUT_WR)  # as `nc -N`: the request is all it will send
    async with asyncio.timeout(5):
        received = await reader.read()  # to the gateway's close
    writer.close()
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert b"GET /two" in received


async def test_a_small_body_is_read_whole_before_an_upstream_connection_is_taken(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
    await writer.drain()
    await asyncio.sleep(0.2)
    assert sum(pool.total for pool in gateway._pools.values()) == 0  # none held for it
    writer.write(b"world")
    async with asyncio.timeout(5):
        answer = await reader.readuntil(b"body=10")
    writer.close()
    assert status_of(answer) == 200


async def test_a_trickled_body_is_cut_off_by_the_minimum_rate(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(limits="{body_timeout: 0.5, min_body_rate: 10}")
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
    answer = b""
    sent = 0
    try:
        for _ in range(12):  # a byte every 0.3 s: never a 0.5 s pause, but 3 bytes/s
            writer.write(b"x")
            sent += 1
            try:
                async with asyncio.timeout(0.3):
                    answer = await reader.read(65536)
                break
            except TimeoutError:
                continue
    except ConnectionError:
        pass
    writer.close()
    assert status_of(answer) == 408
    assert sent < 12  # cut off while it was still trickling, not after it stopped
