"""Scene: the gateway in front of two upstreams — routing, a rate limit, a smuggling attempt
refused, an upstream failing, and the metrics that recorded it all.

Everything runs on 127.0.0.1: two real upstreams, the gateway on an ephemeral port with its
admin port for ``/metrics``, and real HTTP clients.
"""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from meshkit.clock import Clock
from meshkit.demo.tables import heading, table
from meshkit.gateway import Gateway, parse_config
from meshkit.testing import FakeUpstream

__all__ = ["run"]

SMUGGLING = (
    b"POST /api/orders HTTP/1.1\r\nHost: demo\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n"
)


async def run(clock: Clock) -> None:
    upstreams = [await FakeUpstream(f"orders-{i}").start() for i in (1, 2)]
    instances = "\n".join(
        f"      - {{id: {u.name}, host: 127.0.0.1, port: {u.port}}}" for u in upstreams
    )
    config = parse_config(
        f"""
listen: {{host: 127.0.0.1, port: 0}}
admin: {{host: 127.0.0.1, port: 0}}
services:
  - name: orders
    policy: {{algorithm: round_robin, max_attempts: 2}}
    instances:
{instances}
routes:
  - name: orders-api
    match: {{prefix: /api/orders}}
    service: orders
    rewrite_prefix: /orders
  - name: search
    match: {{prefix: /api/search}}
    service: orders
    rate_limit: {{rate: 3/minute, key: ip}}
""",
        source="demo",
    )
    gateway = Gateway(config, clock=clock)
    await gateway.start()
    try:
        rows = await _traffic(gateway, upstreams)
        heading(
            "Gateway: two upstreams behind routes, a rate limit and strict HTTP parsing",
            "Each row is a real request over a socket to the gateway on 127.0.0.1.",
        )
        table(("request", "status", "answered by", "note"), rows)
        await _metrics(gateway)
    finally:
        await gateway.stop(1.0)
        for upstream in upstreams:
            await upstream.stop()


async def _traffic(gateway: Gateway, upstreams: list[FakeUpstream]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        for _ in range(2):
            reply = await http.get("/api/orders/42")
            rows.append(
                ("GET /api/orders/42", reply.status_code, _who(reply), "rewritten to /orders/42")
            )
        for _ in range(4):
            reply = await http.get("/api/search?q=tea")
            note = (
                f"Retry-After {reply.headers['retry-after']}s, "
                f"RateLimit-Remaining {reply.headers['ratelimit-remaining']}"
                if reply.status_code == 429
                else "3 per minute per client"
            )
            rows.append(("GET /api/search", reply.status_code, _who(reply), note))
        reply = await http.get("/nowhere")
        rows.append(("GET /nowhere", reply.status_code, "gateway", "no route"))
        status = await _raw(gateway.port, SMUGGLING)
        rows.append(("CL + TE smuggling try", status, "gateway", "refused; connection closed"))
        await upstreams[0].stop()
        for _ in range(2):
            reply = await http.get("/api/orders/7")
            rows.append(("GET /api/orders/7", reply.status_code, _who(reply), "orders-1 is down"))
        await upstreams[1].stop()
        reply = await http.get("/api/orders/7")
        rows.append(("GET /api/orders/7", reply.status_code, "gateway", "both down"))
    return rows


def _who(reply: httpx.Response) -> str:
    return reply.text.split()[0] if reply.status_code == 200 else "gateway"


async def _raw(port: int, data: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    line = await reader.readline()
    writer.close()
    return int(line.split()[1])


async def _metrics(gateway: Gateway) -> None:
    assert gateway.metrics is not None
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{gateway.metrics.port}/metrics")).text
    rows = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "meshkit_requests_total":
                rows.append((sample.labels["route"], sample.labels["class"], int(sample.value)))
    heading("Gateway metrics", "Scraped from /metrics on the admin port (Prometheus format).")
    table(("route", "class", "requests"), sorted(rows))
