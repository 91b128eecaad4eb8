"""The gateway drives the library's policies, so it reports what they report: a retry
scheduled or given up, a bulkhead refusal, a timeout — the same events, the same sources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from meshkit.events import EventBus
from meshkit.gateway import Gateway, parse_config
from meshkit.gateway.exchange_state import ExchangeState
from meshkit.ratelimit import RateLimitRejected
from meshkit.resilience import BulkheadRejected, RetryGaveUp, RetryScheduled, TimeoutOccurred
from meshkit.testing import EventRecorder, FakeUpstream

from .conftest import exchange, status_of

GET = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"
Start = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def bus() -> EventBus:
    return EventBus()


@pytest.fixture
async def start(upstreams: list[FakeUpstream], bus: EventBus) -> AsyncIterator[Start]:
    started: list[Gateway] = []

    async def make(policy: str, route: str = "") -> Gateway:
        instances = ", ".join(
            f"{{id: {u.name}, host: 127.0.0.1, port: {u.port}}}" for u in upstreams
        )
        gateway = Gateway(
            parse_config(f"""
listen: {{host: 127.0.0.1, port: 0}}
services: [{{name: app, policy: {policy}, instances: [{instances}]}}]
routes: [{{name: r, match: {{prefix: /}}, service: app{route}}}]
"""),
            events=bus,
        )
        await gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        await gateway.stop(1.0)


async def test_retries_are_the_library_s(
    start: Start, bus: EventBus, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start("{algorithm: round_robin, retry: {max_attempts: 3, backoff: "
                          "{kind: constant, base: 0.05}}}")  # fmt: skip
    for upstream in upstreams:
        upstream.status = 503
    recorder = EventRecorder(bus)
    moves: list[int] = []
    gateway.watch_transitions = lambda _e, _s, target: moves.append(target)
    response, _ = await exchange(gateway.port, GET)
    assert status_of(response) == 503  # the last answer, relayed
    scheduled = recorder.of(RetryScheduled)
    assert [(e.source, e.attempt, e.delay) for e in scheduled] == [
        ("retry:app", 1, 0.05),
        ("retry:app", 2, 0.05),
    ]
    (gave_up,) = recorder.of(RetryGaveUp)
    assert (gave_up.source, gave_up.attempts) == ("retry:app", 3)
    assert moves.count(ExchangeState.BACKING_OFF) == 2  # each retry waited its backoff
    assert sum(u.requests for u in upstreams) == 3


async def test_a_post_is_not_retried_and_nothing_is_reported(
    start: Start, bus: EventBus, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start("{retry: {max_attempts: 3}}")
    for upstream in upstreams:
        upstream.status = 503
    recorder = EventRecorder(bus, types=(RetryScheduled, RetryGaveUp))
    response, _ = await exchange(
        gateway.port, b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"
    )
    assert status_of(response) == 503
    assert len(recorder) == 0
    assert sum(u.requests for u in upstreams) == 1


async def test_a_route_bulkhead_refusal(
    start: Start, bus: EventBus, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start("{}", route=", max_concurrent: 1")
    for upstream in upstreams:
        upstream.delay = 0.3
    recorder = EventRecorder(bus, types=(BulkheadRejected,))
    first = asyncio.ensure_future(exchange(gateway.port, GET))
    await asyncio.sleep(0.1)
    refused, _ = await exchange(gateway.port, GET)
    assert status_of(refused) == 503
    assert status_of((await first)[0]) == 200
    (event,) = recorder.of(BulkheadRejected)
    assert (event.source, event.reason, event.active) == ("bulkhead:r", "queue full", 1)


async def test_a_rate_limit_refusal(start: Start, bus: EventBus) -> None:
    gateway = await start("{}", route=", rate_limit: {rate: 1/minute, burst: 1}")
    recorder = EventRecorder(bus, types=(RateLimitRejected,))
    assert status_of((await exchange(gateway.port, GET))[0]) == 200
    assert status_of((await exchange(gateway.port, GET))[0]) == 429
    (event,) = recorder.of(RateLimitRejected)
    assert event.source == "rate_limit:r"


async def test_a_service_bulkhead_holds_for_the_gateway_too(
    start: Start, bus: EventBus, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start("{bulkhead: {max_concurrent: 1, max_queued: 1, max_queue_wait: 2}}")
    for upstream in upstreams:
        upstream.delay = 0.3
    recorder = EventRecorder(bus, types=(BulkheadRejected,))
    moves: list[int] = []
    gateway.watch_transitions = lambda _e, _s, target: moves.append(target)
    first = asyncio.ensure_future(exchange(gateway.port, GET))
    await asyncio.sleep(0.1)
    queued = asyncio.ensure_future(exchange(gateway.port, GET))  # waits for the first
    await asyncio.sleep(0.1)
    refused, _ = await exchange(gateway.port, GET)  # the queue (of one) is full
    assert status_of(refused) == 503
    assert [status_of((await first)[0]), status_of((await queued)[0])] == [200, 200]
    (event,) = recorder.of(BulkheadRejected)
    assert (event.source, event.reason) == ("bulkhead:app", "queue full")
    assert moves.count(ExchangeState.QUEUED) == 1


async def test_timeouts_per_try_then_for_the_request(
    start: Start, bus: EventBus, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start(
        "{algorithm: round_robin, retry: {max_attempts: 2, per_try_timeout: 0.1}}",
        route=", timeout: 2",
    )
    upstreams[0].delay = upstreams[1].delay = 1.0
    recorder = EventRecorder(bus, types=(TimeoutOccurred, RetryScheduled, RetryGaveUp))
    response, _ = await exchange(gateway.port, GET)
    assert status_of(response) == 504  # both attempts ran out of their time
    sources = [(type(e).__name__, e.source) for e in recorder.events]
    assert sources == [
        ("TimeoutOccurred", "attempt_timeout:app"),
        ("RetryScheduled", "retry:app"),
        ("TimeoutOccurred", "attempt_timeout:app"),
        ("RetryGaveUp", "retry:app"),
    ]
    recorder.clear()
    gateway2 = await start("{}", route=", timeout: 0.1")
    response, _ = await exchange(gateway2.port, GET)
    assert status_of(response) == 504
    assert [(e.source, e.seconds) for e in recorder.of(TimeoutOccurred)] == [("timeout:r", 0.1)]
