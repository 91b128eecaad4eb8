"""``/metrics`` on the admin port reports what the gateway did, in Prometheus' format."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from meshkit.testing import FakeUpstream

from .conftest import StartGateway


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_count_requests_by_route_endpoint_and_class(
    start_gateway: StartGateway, upstreams: list[FakeUpstream]
) -> None:
    routes = """
  - {name: api, match: {prefix: /api}, service: app}"""
    gateway = await start_gateway(routes=routes, admin="{host: 127.0.0.1, port: 0}")
    assert gateway.metrics is not None
    upstreams[1].status = 503
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        replies = [await http.get("/api/x") for _ in range(4)]
        await http.get("/nowhere")  # no route: not counted under any route
    assert sorted(r.status_code for r in replies) == [200, 200, 503, 503]
    async with httpx.AsyncClient() as admin:
        scrape = await admin.get(f"http://127.0.0.1:{gateway.metrics.port}/metrics")
        health = await admin.get(f"http://127.0.0.1:{gateway.metrics.port}/healthz")
    assert scrape.status_code == 200
    assert health.text == "ok\n"
    seen = samples(scrape.text)
    assert seen[("meshkit_requests_total", (("class", "2xx"), ("route", "api")))] == 2
    assert seen[("meshkit_requests_total", (("class", "5xx"), ("route", "api")))] == 2
    assert seen[("meshkit_request_duration_seconds_count", (("route", "api"),))] == 4
    assert seen[("meshkit_route_requests_in_flight", (("route", "api"),))] == 0
    u1 = (("class", "5xx"), ("endpoint", "u1"), ("service", "app"))
    assert seen[("meshkit_upstream_requests_total", u1)] == 2
    assert seen[("meshkit_breaker_state", (("endpoint", "u0"), ("service", "app")))] == 0
    assert seen[("meshkit_endpoint_healthy", (("endpoint", "u1"), ("service", "app")))] == 1
    opened = sum(v for (name, _), v in seen.items() if name == "meshkit_upstream_connects_total")
    assert opened >= 2
