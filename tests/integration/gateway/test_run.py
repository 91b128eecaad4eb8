"""``meshkit run examples/gateway.yaml`` serves real traffic and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import Process
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx

from meshkit import __version__
from meshkit._build import PURE_BUILD_WARNING, data_path_compiled
from meshkit.testing import FakeUpstream

ROOT = Path(__file__).resolve().parents[3]
MESHKIT = Path(sys.executable).with_name("meshkit")
Running = Callable[..., AbstractAsyncContextManager[Process]]  # the `running` fixture


async def test_meshkit_run_serves_the_example(running: Running) -> None:
    upstreams = [
        await FakeUpstream(name, port=port).start()
        for name, port in (("orders-1", 9101), ("orders-2", 9102), ("users-1", 9103))
    ]
    try:
        async with running(MESHKIT, "run", ROOT / "examples" / "gateway.yaml") as process:
            async with asyncio.timeout(20):
                banner = (await process.stdout.readline()).decode()
            build = "compiled" if data_path_compiled() else "pure Python"
            assert banner.startswith(f"meshkit {__version__} gateway listening on 127.0.0.1:8080 (")
            assert f"; data path: {build}" in banner
            async with httpx.AsyncClient(base_url="http://127.0.0.1:8080") as http:
                orders = [await http.get("/orders/42") for _ in range(4)]
                users = await http.get("/api/users/7")
                refused = await http.post("/api/users/7")
    finally:
        for upstream in upstreams:
            await upstream.stop()
    assert {r.status_code for r in orders} == {200}
    assert {r.text.split()[0] for r in orders} <= {"orders-1", "orders-2"}
    assert users.text == "users-1 GET /users/7"
    assert refused.status_code == 404


async def test_a_pure_build_warns_how_to_get_the_compiled_one(
    running: Running, pure_python: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "mesh.yaml"
    config.write_text(
        "listen: {host: 127.0.0.1, port: 0}\n"
        "services: [{name: app, instances: [{id: a, host: 127.0.0.1, port: 9}]}]\n"
        "routes: [{name: all, match: {prefix: /}, service: app}]\n"
    )
    async with running(*pure_python, "meshkit", "run", config) as process:
        async with asyncio.timeout(20):
            banner = (await process.stdout.readline()).decode()
            warning = (await process.stderr.readline()).decode()
    assert "; data path: pure Python" in banner
    assert warning == PURE_BUILD_WARNING + "\n"
