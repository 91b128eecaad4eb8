"""Reloading the configuration: no request fails during the swap, a bad file changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from meshkit.errors import ConfigError, StoreError
from meshkit.gateway import Gateway, parse_config
from meshkit.testing import FakeUpstream

MESHKIT = Path(sys.executable).with_name("meshkit")


@contextlib.asynccontextmanager
async def meshkit_run(
    path: Path,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamReader, Process]]:
    """A real `meshkit run` on ``path``, listening; stopped with SIGTERM, which must end it
    with status 0."""
    process = await asyncio.create_subprocess_exec(
        str(MESHKIT), "run", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        async with asyncio.timeout(20):
            await process.stdout.readline()  # listening
        yield process.stdout, process.stderr, process
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            code = await process.wait()
    assert code == 0


def config_text(upstreams: list[FakeUpstream], *, prefix: str, port: int = 0) -> str:
    instances = "\n".join(
        f"      - {{id: {u.name}, host: 127.0.0.1, port: {u.port}}}" for u in upstreams
    )
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
services:
  - name: app
    policy: {{algorithm: round_robin}}
    instances:
{instances}
routes:
  - {{name: main, match: {{prefix: {prefix}}}, service: app}}
"""


async def test_reloads_under_load_lose_no_request() -> None:
    upstreams = [await FakeUpstream(f"u{i}").start() for i in range(3)]
    gateway = Gateway(parse_config(config_text(upstreams[:2], prefix="/")))
    await gateway.start()
    statuses: list[int] = []
    stop = asyncio.Event()

    async def client() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
            while not stop.is_set():
                statuses.append((await http.get("/v1/items")).status_code)

    try:
        clients = [asyncio.ensure_future(client()) for _ in range(4)]
        for round_ in range(6):  # swap instance sets and routes back and forth
            await asyncio.sleep(0.05)
            chosen = upstreams[1:] if round_ % 2 == 0 else upstreams[:2]
            await gateway.reload(parse_config(config_text(chosen, prefix="/v1")))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*clients)
        assert len(statuses) > 50
        assert set(statuses) == {200}
        assert gateway.router.routes[0].stats.count == len(statuses)  # carried over
        with pytest.raises(ConfigError, match="listen"):
            await gateway.reload(parse_config(config_text(upstreams, prefix="/", port=1)))
    finally:
        await gateway.stop(1.0)
        for upstream in upstreams:
            await upstream.stop()


async def test_sighup_reloads_and_a_bad_file_keeps_the_old_config(tmp_path: Path) -> None:
    upstreams = [await FakeUpstream("u0").start()]
    path = tmp_path / "mesh.yaml"
    path.write_text(config_text(upstreams, prefix="/old", port=18271))
    try:
        async with (
            meshkit_run(path) as (stdout, stderr, process),
            httpx.AsyncClient(base_url="http://127.0.0.1:18271") as http,
        ):
            assert (await http.get("/old/x")).status_code == 200
            path.write_text(config_text(upstreams, prefix="/new", port=18271))
            process.send_signal(signal.SIGHUP)
            async with asyncio.timeout(20):
                assert b"reloaded" in await stdout.readline()
            assert (await http.get("/new/x")).status_code == 200
            assert (await http.get("/old/x")).status_code == 404
            path.write_text("routes: [{service: ghost}]\n")
            process.send_signal(signal.SIGHUP)
            async with asyncio.timeout(20):
                refusal = [await stderr.readline() for _ in range(3)]
            assert refusal == [
                b"reload refused (SIGHUP); still serving the old config:\n",
                f"  {path}:1:10: routes[0].name: is required here\n".encode(),
                f'  {path}:1:11: routes[0].service: unknown service "ghost" (services defined: '
                "none)\n".encode(),
            ]
            assert (await http.get("/new/x")).status_code == 200  # the old config serves on
    finally:
        await upstreams[0].stop()


async def test_a_half_written_file_is_never_applied_and_bad_bytes_are_refused(
    tmp_path: Path,
) -> None:
    """Issue 10, defects 9 and 15: the file written in two steps 2.5 s apart made a third of
    requests 404 while its first half was in force; invalid UTF-8 crashed the reload."""
    upstreams = [await FakeUpstream("u0").start()]
    path = tmp_path / "mesh.yaml"
    whole = config_text(upstreams, prefix="/old", port=18272)
    path.write_text(whole)
    try:
        async with (
            meshkit_run(path) as (stdout, stderr, process),
            httpx.AsyncClient(base_url="http://127.0.0.1:18272") as http,
        ):
            new = config_text(upstreams, prefix="/new", port=18272)
            half = new[: new.index("routes:")]  # valid on its own: a gateway with no routes
            path.write_text(half)
            statuses = []
            for _ in range(25):  # 2.5 s of traffic while only the first half is on disk
                statuses.append((await http.get("/old/x")).status_code)
                await asyncio.sleep(0.1)
            path.write_text(new)
            async with asyncio.timeout(20):
                assert b"reloaded" in await stdout.readline()
            assert set(statuses) == {200}
            assert (await http.get("/new/x")).status_code == 200
            path.write_bytes(new.encode().replace(b"/new", b"/n\xe9w"))
            process.send_signal(signal.SIGHUP)
            async with asyncio.timeout(20):
                refusal = [await stderr.readline() for _ in range(2)]
            assert refusal[0] == b"reload refused (SIGHUP); still serving the old config:\n"
            assert b"not valid UTF-8 (byte 0xe9); save the file as UTF-8" in refusal[1]
            assert (await http.get("/new/x")).status_code == 200
    finally:
        await upstreams[0].stop()


def _holding(gateway: Gateway) -> list[tuple[str, tuple[tuple[str, int], ...]]]:
    """Each service the mesh holds, with its instances' ids and ports."""
    catalog = gateway.mesh.catalog
    return sorted(
        (s.name, tuple(sorted((i.instance.id, i.instance.port) for i in catalog.instances(s.name))))
        for s in catalog.services()
    )


def _two_service_config(a: FakeUpstream, b: FakeUpstream, *, extra: str = "") -> str:
    return f"""
listen: {{host: 127.0.0.1, port: 0}}
services:
  - name: orders
    instances: [{{id: orders-1, host: 127.0.0.1, port: {a.port}}}]
  - name: users
    instances: [{{id: users-1, host: 127.0.0.1, port: {b.port}}}]
{extra}
routes:
  - {{name: orders, match: {{prefix: /orders}}, service: orders}}
  - {{name: users, match: {{prefix: /users}}, service: users}}
"""


async def test_a_reload_failing_half_way_leaves_the_old_config_whole() -> None:
    """The store refuses the last write of a reload (a full disk, Redis gone): the services
    already changed are put back, and the old routes keep serving."""
    a, b, c = FakeUpstream("a"), FakeUpstream("b"), FakeUpstream("c")
    for upstream in (a, b, c):
        await upstream.start()
    gateway = Gateway(parse_config(_two_service_config(a, b)))
    await gateway.start()
    before = _holding(gateway)
    changed = (
        _two_service_config(b, a)
        .replace("orders-1", "orders-2")
        .replace(
            "routes:",
            f"""  - name: payments
    instances: [{{id: payments-1, host: 127.0.0.1, port: {c.port}}}]
routes:
  - {{name: payments, match: {{prefix: /payments}}, service: payments}}""",
        )
    )
    store = gateway.mesh.registry.store
    real_put = store.put_instance

    async def refuse_payments(instance):  # type: ignore[no-untyped-def]
        if instance.service == "payments":
            raise StoreError("disk full")
        return await real_put(instance)

    store.put_instance = refuse_payments  # type: ignore[method-assign]
    try:
        with pytest.raises(StoreError):
            await gateway.reload(parse_config(changed))
        assert _holding(gateway) == before  # orders-1 back in orders, users-1 in users, no payments
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
            orders = await http.get("/orders/1")
            payments = await http.get("/payments/1")
        assert orders.text.startswith("a ")  # the old instance, on the old route
        assert payments.status_code == 404  # the new route never took effect
    finally:
        store.put_instance = real_put  # type: ignore[method-assign]
        await gateway.stop(1.0)
        for upstream in (a, b, c):
            await upstream.stop()
