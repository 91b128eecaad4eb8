"""``meshkit run examples/gateway.yaml`` serves real traffic and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx

from meshkit import __version__
from meshkit._build import PURE_BUILD_WARNING, data_path_compiled
from meshkit.testing import FakeUpstream

ROOT = Path(__file__).resolve().parents[3]
MESHKIT = Path(sys.executable).with_name("meshkit")


async def test_meshkit_run_serves_the_example() -> None:
    upstreams = [
        await FakeUpstream(name, port=port).start()
        for name, port in (("orders-1", 9101), ("orders-2", 9102), ("users-1", 9103))
    ]
    process = await asyncio.create_subprocess_exec(
        str(MESHKIT), "run", str(ROOT / "examples" / "gateway.yaml"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            banner = await process.stdout.readline()
        build = "compiled" if data_path_compiled() else "pure Python"
        assert banner.decode().startswith(
            f"meshkit {__version__} gateway listening on 127.0.0.1:8080 ("
        )
        assert banner.decode().endswith(f"; data path: {build})\n")
        async with httpx.AsyncClient(base_url="http://127.0.0.1:8080") as http:
            orders = [await http.get("/orders/42") for _ in range(4)]
            users = await http.get("/api/users/7")
            refused = await http.post("/api/users/7")
        assert {r.status_code for r in orders} == {200}
        assert {r.text.split()[0] for r in orders} <= {"orders-1", "orders-2"}
        assert users.text == "users-1 GET /users/7"
        assert refused.status_code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            code = await process.wait()
        for upstream in upstreams:
            await upstream.stop()
    assert code == 0


async def test_a_pure_build_warns_how_to_get_the_compiled_one(
    pure_python: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "mesh.yaml"
    config.write_text(
        "listen: {host: 127.0.0.1, port: 0}\n"
        "services: [{name: app, instances: [{id: a, host: 127.0.0.1, port: 9}]}]\n"
        "routes: [{name: all, match: {prefix: /}, service: app}]\n"
    )
    process = await asyncio.create_subprocess_exec(
        *pure_python, "meshkit", "run", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        async with asyncio.timeout(20):
            banner = await process.stdout.readline()
            warning = await process.stderr.readline()
        assert banner.decode().endswith("; data path: pure Python)\n")
        assert warning.decode() == PURE_BUILD_WARNING + "\n"
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            code = await process.wait()
    assert code == 0
