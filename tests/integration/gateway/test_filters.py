"""Python filters referenced from the config: they rewrite, answer, and fail in isolation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from meshkit.errors import ConfigError
from meshkit.gateway import parse_config
from meshkit.testing import FakeUpstream

from .conftest import StartGateway

FILTERS = """
import asyncio
from meshkit.gateway.filters import Reply

async def require_key(request):
    if request.headers.get("x-api-key") != "open-sesame":
        return Reply(401, {"error": "missing or wrong API key"}, {"www-authenticate": "Key"})
    request.headers.remove("x-api-key")
    request.headers.set("x-user", "alice")
    request.path = request.path.replace("/public", "/internal", 1)
    return None

async def stamp(response):
    response.headers.set("x-filtered", f"{response.request.route}:{response.status}")
    if response.status == 503:
        response.status = 502

async def broken(request):
    raise RuntimeError("bug in a filter")

async def slow(request):
    await asyncio.sleep(5)

def not_async(request):
    return None
"""


@pytest.fixture
def filter_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_filters.py").write_text(textwrap.dedent(FILTERS))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_filters"


async def test_request_and_response_filters(
    start_gateway: StartGateway, upstreams: list[FakeUpstream], filter_module: str
) -> None:
    routes = f"""
  - name: api
    match: {{prefix: /public}}
    service: app
    filters: {{request: ["{filter_module}:require_key"], response: ["{filter_module}:stamp"]}}"""
    gateway = await start_gateway(routes=routes)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        refused = await http.get("/public/items")
        allowed = await http.get("/public/items", headers={"x-api-key": "open-sesame"})
        upstreams[0].status = upstreams[1].status = 503
        mapped = await http.get("/public/items", headers={"x-api-key": "open-sesame"})
    assert refused.status_code == 401
    assert refused.json() == {"error": "missing or wrong API key"}
    assert refused.headers["www-authenticate"] == "Key"
    assert allowed.status_code == 200
    assert allowed.text.endswith("GET /internal/items")
    assert allowed.headers["x-filtered"] == "api:200"
    seen = next(u.last_headers for u in upstreams if u.requests)
    assert seen["x-user"] == "alice"
    assert "x-api-key" not in seen
    assert mapped.status_code == 502
    assert mapped.headers["x-filtered"] == "api:503"
    assert upstreams[0].requests + upstreams[1].requests == 2  # the refused one never went


async def test_a_failing_or_slow_filter_is_a_500_and_the_connection_lives_on(
    start_gateway: StartGateway, filter_module: str
) -> None:
    routes = f"""
  - name: broken
    match: {{prefix: /broken}}
    service: app
    filters: {{request: ["{filter_module}:broken"]}}
  - name: slow
    match: {{prefix: /slow}}
    service: app
    filters: {{request: ["{filter_module}:slow"], timeout: 0.2}}
  - {{name: rest, match: {{prefix: /}}, service: app}}"""
    gateway = await start_gateway(routes=routes)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        broken = await http.get("/broken")
        slow = await http.get("/slow")
        fine = await http.get("/fine")  # same keep-alive connection
    for reply in (broken, slow):
        assert reply.status_code == 500
        assert reply.json()["error"] == "filter failed"
        assert "Traceback" not in reply.text
    assert fine.status_code == 200


def test_filters_are_checked_when_the_config_loads(filter_module: str) -> None:
    base = "services: [{name: a}]\nroutes:\n  - {service: a, filters: {request: [%s]}}\n"
    with pytest.raises(ConfigError, match="must be an async function"):
        parse_config(base % f'"{filter_module}:not_async"')
    with pytest.raises(ConfigError, match="cannot import"):
        parse_config(base % '"no_such_module:f"')
    with pytest.raises(ConfigError, match="has no 'missing'"):
        parse_config(base % f'"{filter_module}:missing"')
