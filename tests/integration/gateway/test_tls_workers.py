"""TLS termination, and several worker processes sharing one port."""

from __future__ import annotations

import asyncio
import signal
import ssl
import sys
from pathlib import Path

import httpx
import pytest

from meshkit.errors import ConfigError
from meshkit.gateway import Gateway, parse_config
from meshkit.testing import FakeUpstream

from .conftest import free_port

DATA = Path(__file__).resolve().parents[2] / "data"
CERT, KEY = DATA / "localhost.crt", DATA / "localhost.key"  # self-signed, for tests only
MESHKIT = Path(sys.executable).with_name("meshkit")


def config_text(upstream: FakeUpstream, listen: str, extra: str = "") -> str:
    return f"""
listen: {listen}
{extra}
services:
  - {{name: app, instances: [{{id: u, host: 127.0.0.1, port: {upstream.port}}}]}}
routes:
  - {{name: r0, match: {{prefix: /}}, service: app}}
"""


async def test_tls_is_terminated_and_the_upstream_told() -> None:
    upstream = await FakeUpstream("u").start()
    listen = f"{{host: 127.0.0.1, port: 0, tls: {{cert: {CERT}, key: {KEY}}}}}"
    gateway = Gateway(parse_config(config_text(upstream, listen)))
    await gateway.start()
    try:
        context = ssl.create_default_context(cafile=str(CERT))
        async with httpx.AsyncClient(verify=context) as http:
            reply = await http.get(f"https://127.0.0.1:{gateway.port}/secure")
        assert reply.status_code == 200
        assert reply.text == "u GET /secure"
        assert upstream.last_headers["x-forwarded-proto"] == "https"
    finally:
        await gateway.stop(1.0)
        await upstream.stop()


def test_a_bad_certificate_starts_nothing(tmp_path: Path) -> None:
    listen = f"{{port: 0, tls: {{cert: {tmp_path / 'none.crt'}, key: {KEY}}}}}"
    with pytest.raises(ConfigError, match="cannot load the certificate"):
        parse_config(f"listen: {listen}\n")


async def test_workers_share_the_port_and_stop_together(tmp_path: Path) -> None:
    upstream = await FakeUpstream("u").start()
    path = tmp_path / "mesh.yaml"
    port = free_port()  # (workers need a fixed port; a fixed number collides with other runs)
    path.write_text(config_text(upstream, f"{{host: 127.0.0.1, port: {port}}}", "workers: 2"))
    process = await asyncio.create_subprocess_exec(
        str(MESHKIT), "run", str(path), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(20):
            banners = [await process.stdout.readline() for _ in range(2)]
        assert all(f"listening on 127.0.0.1:{port}".encode() in b for b in banners), banners
        async with httpx.AsyncClient() as http:
            replies = [await http.get(f"http://127.0.0.1:{port}/x") for _ in range(6)]
        assert {r.status_code for r in replies} == {200}
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            code = await process.wait()
        await upstream.stop()
    assert code == 0
    with pytest.raises(ConfigError, match="fixed listen port"):
        parse_config("workers: 2\nlisten: {port: 0}\n")
