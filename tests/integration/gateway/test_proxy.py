"""The gateway proxying real traffic to real upstreams on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json

import httpx

from meshkit.testing import FakeUpstream

from .conftest import StartGateway

ROUTES = """
  - {name: r0, match: {prefix: /api, methods: [GET, POST, HEAD]}, service: app, rewrite_prefix: /v1}
  - {name: r1, match: {path: /slow}, service: app, timeout: 0.2}"""


async def test_routes_rewrite_and_spread_over_instances(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(routes=ROUTES)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        replies = [await http.get("/api/items?x=1") for _ in range(4)]
        assert [r.status_code for r in replies] == [200] * 4
        assert {r.text.split()[0] for r in replies} == {"u0", "u1"}
        assert all(r.text.endswith("GET /v1/items?x=1") for r in replies)
        missing = await http.get("/elsewhere")
        assert missing.status_code == 404
        assert missing.json()["error"] == "no route"
        assert missing.json()["request_id"] == missing.headers["x-request-id"]
        wrong_method = await http.delete("/api/items")
        assert wrong_method.status_code == 405  # (was 404: a listed defect of issue 11)
        assert wrong_method.headers["allow"] == "GET, HEAD, POST"


async def test_request_identity_and_forwarding_headers(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        reply = await http.get(
            "/", headers={"x-request-id": "abc-123", "x-forwarded-for": "10.9.9.9"}
        )
    assert reply.headers["x-request-id"] == "abc-123"
    seen = next(u.last_headers for u in upstreams if u.requests)
    assert seen["x-request-id"] == "abc-123"
    assert seen["x-forwarded-for"] == "127.0.0.1"  # an untrusted client's claim is dropped
    assert seen["x-forwarded-proto"] == "http"
    assert seen["host"] == f"127.0.0.1:{gateway.port}"


async def test_hop_by_hop_request_fields_stay_with_the_gateway(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        await http.get(
            "/",
            headers={
                "connection": "X-Hop, keep-alive",
                "x-hop": "for the gateway only",
                "keep-alive": "timeout=5",
                "te": "trailers",
                "x-kept": "end to end",
            },
        )
    seen = next(u.last_headers for u in upstreams if u.requests)
    assert seen["x-kept"] == "end to end"
    for name in ("x-hop", "keep-alive", "te"):
        assert name not in seen
    assert seen.get("connection", "keep-alive") == "keep-alive"  # only the gateway's own


async def test_forwarding_headers_from_a_trusted_proxy_are_kept(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway(extra="trusted_proxies: [127.0.0.0/8]")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        await http.get("/", headers={"x-forwarded-for": "10.9.9.9", "x-forwarded-proto": "https"})
    seen = next(u.last_headers for u in upstreams if u.requests)
    assert seen["x-forwarded-for"] == "10.9.9.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "https"


async def test_5xx_is_retried_elsewhere_for_idempotent_requests_only(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway(policy="{algorithm: round_robin, max_attempts: 2}")
    upstreams[0].status = 503
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        gets = [await http.get("/") for _ in range(4)]
        assert [r.status_code for r in gets] == [200] * 4  # u0's 503s were retried on u1
        before = {u.name: u.requests for u in upstreams}
        posts = [await http.post("/", content=b"x") for _ in range(4)]
    sent = {u.name: u.requests - before[u.name] for u in upstreams}
    assert sum(sent.values()) == 4  # each POST went upstream exactly once: never retried
    assert sum(r.status_code == 503 for r in posts) == sent["u0"]


async def test_small_bodies_are_replayed_on_retry(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    routes = """
  - {name: r2, match: {prefix: /any}, service: app, retry_non_idempotent: true}
  - {name: r3, match: {prefix: /}, service: app}"""
    gateway = await start_gateway(policy="{algorithm: round_robin, max_attempts: 2}", routes=routes)
    upstreams[0].status = 503

    async def chunks() -> object:
        yield b"a" * 1000
        yield b"b" * 1000

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        big = [await http.put("/x", content=b"q" * 100_000) for _ in range(2)]  # u0 fresh
        puts = [await http.put("/x", content=b"p" * 5000) for _ in range(2)]
        posts = [await http.post("/any", content=chunks()) for _ in range(2)]
    assert [r.status_code for r in puts] == [200, 200]  # retried, with the body sent again
    assert all(r.text.endswith("body=5000") for r in puts)
    assert [r.status_code for r in posts] == [200, 200]  # the route allows repeating a POST
    assert all(r.text.endswith("body=2000") for r in posts)
    assert sorted(r.status_code for r in big) == [200, 503]  # too big to keep: not retried


async def test_a_503_with_retry_after_is_passed_on_not_retried(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway(policy="{algorithm: round_robin, max_attempts: 2}")
    upstreams[0].status = 503
    upstreams[0].retry_after = "30"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        replies = [await http.get("/") for _ in range(2)]
    refused = [r for r in replies if r.status_code == 503]
    assert len(refused) == 1  # round robin: one of the two went to u0, and was not retried
    assert refused[0].headers["retry-after"] == "30"


async def test_route_bulkhead_refuses_beyond_its_concurrency(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    routes = """
  - {name: r4, match: {prefix: /}, service: app, max_concurrent: 1}"""
    gateway = await start_gateway(routes=routes)
    for upstream in upstreams:
        upstream.delay = 0.3
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        first = asyncio.ensure_future(http.get("/"))
        await asyncio.sleep(0.1)
        second = await http.get("/")
        assert (await first).status_code == 200
    assert second.status_code == 503
    assert second.json()["error"] == "too many requests in flight"
    assert second.headers["retry-after"] == "1"


async def test_route_bulkhead_queue_waits_for_a_slot_then_gives_up(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    routes = """
  - name: r5
    match: {prefix: /}
    service: app
    max_concurrent: 1
    max_queued: 1
    max_queue_wait: 0.5"""
    gateway = await start_gateway(routes=routes)
    for upstream in upstreams:
        upstream.delay = 0.2
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        running = asyncio.ensure_future(http.get("/"))
        await asyncio.sleep(0.05)
        queued = asyncio.ensure_future(http.get("/"))  # waits for the first to finish
        await asyncio.sleep(0.05)
        refused = await http.get("/")  # the queue (of one) is full
        assert [(await running).status_code, (await queued).status_code] == [200, 200]
        assert refused.status_code == 503
        for upstream in upstreams:
            upstream.delay = 2.0
        slow = asyncio.ensure_future(http.get("/"))
        await asyncio.sleep(0.05)
        timed_out = await http.get("/")  # waits 0.5 s for a slot that never frees
        assert timed_out.status_code == 503
        slow.cancel()


async def test_bodies_stream_both_ways(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway()
    big = b"x" * (3 * 1024 * 1024)

    async def chunks() -> object:
        for _ in range(3):
            yield b"y" * (1024 * 1024)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        sized = await http.post("/up", content=big)
        assert sized.text.endswith(f"body={len(big)}")
        chunked = await http.post("/up", content=chunks())  # sent with Transfer-Encoding: chunked
        assert chunked.text.endswith(f"body={3 * 1024 * 1024}")
        for upstream in upstreams:
            upstream.body = big
        download = await http.get("/down")
        assert len(download.content) == len(big)
        head = await http.head("/down")
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(big))
        assert head.content == b""


async def test_error_table(start_gateway: StartGateway, upstreams: list[FakeUpstream]) -> None:
    gateway = await start_gateway(routes=ROUTES, policy="{algorithm: round_robin, breaker: false}")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        for upstream in upstreams:
            upstream.delay = 1.0
        slow = await http.get("/slow")
        assert slow.status_code == 504
        assert slow.json()["error"] == "upstream timeout"
        for upstream in upstreams:
            upstream.delay = 0.0
            await upstream.stop()
        down = await http.get("/api/x")
        assert down.status_code == 502
        assert set(down.json()) == {"error", "request_id"}


async def test_no_healthy_endpoint_is_503_with_retry_after(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    for instance in ("u0", "u1"):
        await gateway.mesh.deregister(instance)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        reply = await http.get("/")
    assert reply.status_code == 503
    assert reply.headers["retry-after"] == "1"
    assert json.loads(reply.text)["error"] == "no healthy endpoint"


async def test_a_closed_keep_alive_connection_is_replaced(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        assert (await http.get("/")).status_code == 200
        assert (await http.get("/")).status_code == 200
        for upstream in upstreams:  # closes the pooled connections, like an upstream restart
            await upstream.stop()
            await upstream.start()
        replies = [await http.get("/") for _ in range(4)]
    assert [r.status_code for r in replies] == [200] * 4


async def test_client_disconnect_cancels_the_upstream_call(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    # A closed socket and a half-closed one look the same from here (a FIN): by default the
    # gateway answers a half-closed client (test_hardening); `abort` treats it as gone.
    gateway = await start_gateway(limits="{half_closed_clients: abort}")
    for upstream in upstreams:
        upstream.delay = 5.0
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    await writer.drain()
    for _ in range(100):
        if gateway.listener.in_flight:
            break
        await asyncio.sleep(0.01)
    assert gateway.listener.in_flight == 1
    writer.close()
    for _ in range(100):
        if not gateway.listener.in_flight:
            break
        await asyncio.sleep(0.01)
    assert gateway.listener.in_flight == 0  # long before the upstream's 5 s
    del reader


async def test_graceful_stop_drains_requests_in_flight(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway()
    for upstream in upstreams:
        upstream.delay = 0.3
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        pending = asyncio.ensure_future(http.get("/"))
        await asyncio.sleep(0.1)
        await gateway.stop(deadline=2.0)
        reply = await pending
    assert reply.status_code == 200
    assert reply.headers.get("connection") == "close"


async def test_route_rate_limit_answers_429_with_ratelimit_headers(
    start_gateway: StartGateway,
) -> None:
    routes = """
  - name: r6
    match: {prefix: /limited}
    service: app
    rate_limit: {rate: 2/minute, key: "header:x-api-key"}
  - {name: r7, match: {prefix: /}, service: app}"""
    gateway = await start_gateway(routes=routes)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        alice = [await http.get("/limited", headers={"x-api-key": "alice"}) for _ in range(3)]
        bob = await http.get("/limited", headers={"x-api-key": "bob"})
        free = await http.get("/other")
    assert [r.status_code for r in alice] == [200, 200, 429]
    refused = alice[2]
    assert refused.json()["error"] == "rate limited"
    assert refused.headers["ratelimit-limit"] == "2"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert int(refused.headers["ratelimit-reset"]) >= 1
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert bob.status_code == 200  # each key has its own limit
    assert free.status_code == 200


async def test_trace_context_continues_with_a_new_span(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway()
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        await http.get("/", headers={"traceparent": incoming, "tracestate": "vendor=1"})
        seen = next(u.last_headers for u in upstreams if u.requests)
        version, trace_id, span, flags = seen["traceparent"].split("-")
        assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
        assert span != "00f067aa0ba902b7"
        assert seen["tracestate"] == "vendor=1"
        for upstream in upstreams:
            upstream.requests = 0
        await http.get("/", headers={"traceparent": "garbage"})
        fresh = next(u.last_headers for u in upstreams if u.requests)["traceparent"]
    assert len(fresh.split("-")[1]) == 32
    assert fresh.split("-")[1] != "4bf92f3577b34da6a3ce929d0e0e4736"
