"""Which route a request takes and as whom (issue 11's routing defects): paths normalised
before routing and forwarded so, 405 with ``Allow`` for a route's path with another method,
unrouted requests counted, and the client's address from trusted proxies for per-IP limits
and hashing."""

from __future__ import annotations

import httpx

from meshkit.testing import FakeUpstream

from .conftest import StartGateway, exchange, status_of
from .test_metrics import samples

ROUTES = """
  - {name: orders, match: {prefix: /orders}, service: app}
  - {name: guarded, match: {prefix: /api, methods: [GET, HEAD]}, service: app,
     request_headers: {add: {x-guarded: "yes"}}}"""


async def test_a_dot_segment_cannot_walk_around_a_route(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway(routes=ROUTES)
    for target in (b"/orders/../api/users/1", b"/orders/%2e%2e/api/users/1", b"/api/./users/1"):
        response, _ = await exchange(
            gateway.port, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        assert status_of(response) == 200, target
        assert response.endswith(b"GET /api/users/1"), target  # forwarded normalised
        seen = next(u.last_headers for u in upstreams if u.last_headers)
        assert seen["x-guarded"] == "yes"  # the /api route's edits applied: it was routed there


async def test_slashes_merge_when_configured(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    gateway = await start_gateway(routes=ROUTES, limits="{merge_slashes: true}")
    response, _ = await exchange(gateway.port, b"GET //api//users HTTP/1.1\r\nHost: a\r\n\r\n")
    assert response.endswith(b"GET /api/users")


async def test_another_method_gets_405_with_allow_and_misses_are_counted(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(routes=ROUTES, admin="{host: 127.0.0.1, port: 0}")
    assert gateway.metrics is not None
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        wrong = await http.post("/api/users", content=b"{}")
        nowhere = await http.get("/elsewhere")
        scrape = await http.get(f"http://127.0.0.1:{gateway.metrics.port}/metrics")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD"
    assert nowhere.status_code == 404
    seen = samples(scrape.text)
    assert seen[("meshkit_unrouted_requests_total", (("class", "4xx"),))] == 2


async def test_per_ip_limits_use_the_client_behind_a_trusted_proxy(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(
        extra="trusted_proxies: [127.0.0.0/8]",
        policy="{algorithm: ring_hash}",
        routes="  - {name: all, match: {prefix: /}, service: app, "
        "rate_limit: {rate: 2/minute, key: ip}}",
    )

    def ask(chain: bytes) -> bytes:
        return b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: " + chain + b"\r\n\r\n"

    first = [status_of((await exchange(gateway.port, ask(b"203.0.113.7")))[0]) for _ in range(3)]
    # another client behind the same proxy has a budget of its own; a forged left-most entry
    # does not make a new client (the proxy appended the real one on the right)
    other = status_of((await exchange(gateway.port, ask(b"198.51.100.9")))[0])
    forged = status_of((await exchange(gateway.port, ask(b"1.2.3.4, 203.0.113.7")))[0])
    assert first == [200, 200, 429]
    assert other == 200
    assert forged == 429


async def test_hashing_keys_on_the_client_behind_a_trusted_proxy(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(
        extra="trusted_proxies: [127.0.0.0/8]", policy="{algorithm: ring_hash}"
    )
    balancer = gateway.mesh.route("app").balancer
    by_endpoint: dict[str, str] = {}  # one client address per endpoint it hashes to
    for last in range(1, 200):
        address = f"203.0.113.{last}"
        by_endpoint.setdefault(balancer.pick(address.encode()).id, address)
    assert len(by_endpoint) == 2
    for endpoint, address in by_endpoint.items():
        request = b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: %s\r\n\r\n" % address.encode()
        for _ in range(3):  # (the socket peer, 127.0.0.1, would hash all of them to one)
            response, _ = await exchange(gateway.port, request)
            assert response.endswith(endpoint.encode() + b" GET /"), (endpoint, address)
