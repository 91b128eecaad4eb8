"""Real requests, watched state by state: each scenario takes the exchange along exactly the
path expected, and every move any of them makes is a row of the state table."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshkit.gateway import Gateway
from meshkit.gateway.exchange import Exchange
from meshkit.gateway.exchange_state import TRANSITIONS, ExchangeState
from meshkit.testing import FakeUpstream

from .conftest import RawGateway, StartGateway, exchange, status_of

S = ExchangeState
GET = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


class Watch:
    """Every exchange's path through the states, in the order of the requests."""

    def __init__(self, gateway: Gateway) -> None:
        self.paths: dict[int, list[ExchangeState]] = {}
        gateway.watch_transitions = self._moved

    def _moved(self, exchange: Exchange, source: int, target: int) -> None:
        path = self.paths.setdefault(id(exchange), [S(source)])
        assert path[-1] == source
        assert S(target) in TRANSITIONS[S(source)], f"{S(source).name} -> {S(target).name}"
        path.append(S(target))

    def only(self) -> list[ExchangeState]:
        (path,) = self.paths.values()
        return path


OK_PATH = [S.RECEIVED, S.CONNECTING, S.WAITING, S.RESPONDING, S.DONE]


@pytest.fixture
def filter_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "state_filters.py").write_text(
        textwrap.dedent("""
        import asyncio

        async def later(request):
            await asyncio.sleep(0)

        async def stamp(response):
            await asyncio.sleep(0)
            response.headers.set("x-stamp", "1")
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "state_filters"
    sys.modules.pop("state_filters", None)


async def test_a_relayed_request(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    watch = Watch(gateway)
    response, _ = await exchange(gateway.port, GET)
    assert status_of(response) == 200
    assert watch.only() == OK_PATH


@pytest.mark.parametrize(
    ("routes", "sent", "status"),
    [
        ("  - {name: r, match: {prefix: /api}, service: app}", GET, 404),
        ("  - {name: r, match: {prefix: /, methods: [POST]}, service: app}", GET, 405),
        ("  - {name: r, service: app, rate_limit: {rate: 1/minute, burst: 1}}", None, 429),
    ],
)
async def test_answered_at_once(
    start_gateway: StartGateway, routes: str, sent: bytes | None, status: int
) -> None:
    gateway = await start_gateway(routes=routes)
    if sent is None:  # the rate limit: the first passes, the second is refused
        await exchange(gateway.port, GET)
        sent = GET
    watch = Watch(gateway)
    response, _ = await exchange(gateway.port, sent)
    assert status_of(response) == status
    assert watch.only() == [S.RECEIVED, S.DONE]


async def test_a_paused_request_filter(start_gateway: StartGateway, filter_module: str) -> None:
    gateway = await start_gateway(
        routes=f'  - {{name: r, service: app, filters: {{request: ["{filter_module}:later"]}}}}'
    )
    watch = Watch(gateway)
    response, _ = await exchange(gateway.port, GET)
    assert status_of(response) == 200
    assert watch.only() == [S.RECEIVED, S.FILTERING, *OK_PATH[1:]]


async def test_a_paused_response_filter(start_gateway: StartGateway, filter_module: str) -> None:
    gateway = await start_gateway(
        routes=f'  - {{name: r, service: app, filters: {{response: ["{filter_module}:stamp"]}}}}'
    )
    watch = Watch(gateway)
    response, _ = await exchange(gateway.port, GET)
    assert b"x-stamp: 1" in response
    assert watch.only() == [
        S.RECEIVED, S.CONNECTING, S.WAITING, S.RESPONSE_FILTERING, S.RESPONDING, S.DONE,
    ]  # fmt: skip


async def test_a_small_body_is_read_before_connecting(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    watch = Watch(gateway)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab")
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(b"cd")
    async with asyncio.timeout(5):
        head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert status_of(head) == 200
    assert watch.only() == [S.RECEIVED, S.BUFFERING, *OK_PATH[1:]]


async def test_a_503_is_retried(upstreams: list[FakeUpstream], start_gateway: StartGateway) -> None:
    gateway = await start_gateway(
        policy="{algorithm: round_robin, retry: {max_attempts: 2, backoff: {kind: constant, "
        "base: 0.01}}}"
    )
    for upstream in upstreams:
        upstream.status = 503  # both attempts fail: the last answer is relayed
    watch = Watch(gateway)
    response, _ = await exchange(gateway.port, GET)
    assert status_of(response) == 503
    assert sum(upstream.requests for upstream in upstreams) == 2
    assert watch.only() == [
        S.RECEIVED, S.CONNECTING, S.WAITING, S.BACKING_OFF, S.CONNECTING, S.WAITING,
        S.RESPONDING, S.DONE,
    ]  # fmt: skip


async def test_queued_at_the_bulkhead(
    upstreams: list[FakeUpstream], start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(
        routes="  - {name: r, service: app, max_concurrent: 1, max_queued: 1}"
    )
    for upstream in upstreams:
        upstream.delay = 0.2
    watch = Watch(gateway)
    first, second = await asyncio.gather(exchange(gateway.port, GET), exchange(gateway.port, GET))
    assert (status_of(first[0]), status_of(second[0])) == (200, 200)
    assert sorted(watch.paths.values()) == sorted([OK_PATH, [S.RECEIVED, S.QUEUED, *OK_PATH[1:]]])


async def test_a_timeout_and_a_client_that_leaves(
    upstreams: list[FakeUpstream], start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(routes="  - {name: r, service: app, timeout: 0.1}")
    for upstream in upstreams:
        upstream.delay = 1.0
    watch = Watch(gateway)
    response, _ = await exchange(gateway.port, GET)
    assert status_of(response) == 504
    assert watch.only() == [S.RECEIVED, S.CONNECTING, S.WAITING, S.DONE]
    watch.paths.clear()
    ended = asyncio.Event()
    gateway.watch_transitions = lambda e, s, t: (watch._moved(e, s, t), t == S.DONE and ended.set())
    _, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(GET)
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()
    async with asyncio.timeout(5):
        await ended.wait()
    assert watch.only() == [S.RECEIVED, S.CONNECTING, S.WAITING, S.DONE]


async def test_a_tunnel(raw_gateway: RawGateway) -> None:
    async def switch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"
        )
        writer.write(await reader.read(5))
        await writer.drain()

    gateway = await raw_gateway(switch)
    watch = Watch(gateway)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nhello")
    async with asyncio.timeout(5):
        await reader.readuntil(b"\r\n\r\n")
        assert await reader.readexactly(5) == b"hello"
        assert await reader.read() == b""  # the upstream closed: so does the tunnel
    writer.close()
    assert watch.only() == [S.RECEIVED, S.CONNECTING, S.WAITING, S.TUNNEL, S.DONE]
