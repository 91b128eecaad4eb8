"""Python filters referenced from the config: they rewrite, answer, and fail in isolation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import httpx
import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError
from meshkit.gateway import Gateway, parse_config
from meshkit.gateway.config_load import read_config
from meshkit.gateway.reloader import Reloader
from meshkit.testing import FakeUpstream

from .conftest import StartGateway

MESHKIT = Path(sys.executable).with_name("meshkit")

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
    base = "services: [{name: a}]\nroutes:\n  - {name: r, service: a, filters: {request: [%s]}}\n"
    with pytest.raises(ConfigError, match="must be an async function"):
        parse_config(base % f'"{filter_module}:not_async"')
    with pytest.raises(ConfigError, match="cannot import"):
        parse_config(base % '"no_such_module:f"')
    with pytest.raises(ConfigError, match="has no 'missing'"):
        parse_config(base % f'"{filter_module}:missing"')


CHECK = """
from meshkit.gateway.filters import Reply

async def check(request):
    return Reply({status}, "{text}")
"""


def validate(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(MESHKIT), "validate", str(config)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


ROUTE = "services: [{name: a}]\nroutes: [{name: r, service: a, filters: {request: [%s]}}]\n"


def test_filters_import_from_the_config_directory_and_the_working_directory(
    tmp_path: Path,
) -> None:
    """Issue 12: `myapp.filters` failed with "No module named 'myapp'" unless PYTHONPATH=."""
    beside, elsewhere = tmp_path / "beside", tmp_path / "elsewhere"
    for folder, package in ((beside, "beside_app"), (elsewhere, "cwd_app")):
        (folder / package).mkdir(parents=True)
        (folder / package / "filters.py").write_text(CHECK.format(status=401, text="no"))
    (beside / "mesh.yaml").write_text(ROUTE % '"beside_app.filters:check"')
    (elsewhere / "mesh.yaml").write_text(ROUTE % '"cwd_app.filters:check"')
    next_to_config = validate(beside / "mesh.yaml", cwd=tmp_path)
    assert next_to_config.returncode == 0, next_to_config.stderr
    in_working_directory = validate(tmp_path / "elsewhere" / "mesh.yaml", cwd=elsewhere)
    assert in_working_directory.returncode == 0, in_working_directory.stderr
    (tmp_path / "other.yaml").write_text(ROUTE % '"cwd_app.filters:check"')
    nowhere = validate(tmp_path / "other.yaml", cwd=tmp_path)
    assert nowhere.returncode == 2
    assert "cannot import 'cwd_app.filters': No module named 'cwd_app' (looked in the config " in (
        nowhere.stderr
    )


async def test_a_reload_imports_an_edited_filter_again(
    tmp_path: Path, upstreams: list[FakeUpstream]
) -> None:
    module = f"edited_{uuid.uuid4().hex[:8]}"
    source = tmp_path / f"{module}.py"
    write(source, CHECK.format(status=401, text="first"))
    config = tmp_path / "mesh.yaml"
    write(
        config,
        f"""listen: {{host: 127.0.0.1, port: 0}}
services: [{{name: a, instances: [{{id: u, host: 127.0.0.1, port: {upstreams[0].port}}}]}}]
routes: [{{name: r, service: a, filters: {{request: ["{module}:check"]}}}}]
""",
    )
    loaded, running = read_config(config)
    gateway = Gateway(loaded)
    await gateway.start()
    try:
        reloader = Reloader(
            config,
            gateway.reload,
            loaded.reload,
            running=running,
            clock=FakeClock(),
            report=lambda *_: None,
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
            assert (await http.get("/")).text == "first"
            write(source, CHECK.format(status=403, text="edited"))  # same second, other size
            await reloader.reload("SIGHUP")
            edited = await http.get("/")
        assert (edited.status_code, edited.text) == (403, "edited")
    finally:
        await gateway.stop(1.0)
        sys.modules.pop(module, None)


def write(path: Path, text: str) -> None:
    path.write_text(text)
