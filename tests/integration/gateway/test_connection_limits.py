"""Out of file descriptors or at ``max_connections``, the gateway stops accepting (clients
wait in the listen backlog) instead of accepting and dropping them without an answer."""

from __future__ import annotations

import asyncio
import resource
import sys
from pathlib import Path

from meshkit.testing import FakeUpstream

from .conftest import StartGateway, free_port, status_of

MESHKIT = Path(sys.executable).with_name("meshkit")
GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


async def _ask(port: int) -> tuple[asyncio.StreamReader, asyncio.Task[bytes]]:
    """Connect, send a request, and leave a task reading its answer (b"" if none came)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(GET)

    async def answer() -> bytes:
        try:
            return await reader.readuntil(b"u0 GET /")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            return getattr(exc, "partial", b"")
        finally:
            writer.close()

    return reader, asyncio.create_task(answer())


async def test_at_max_connections_new_clients_wait_until_one_closes(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(limits="{max_connections: 3}")
    first = [await asyncio.open_connection("127.0.0.1", gateway.port) for _ in range(3)]
    for reader, writer in first:
        writer.write(GET)
        async with asyncio.timeout(5):
            assert status_of(await reader.readuntil(b"\r\n\r\n")) == 200
    waiting = [await asyncio.open_connection("127.0.0.1", gateway.port) for _ in range(2)]
    for _, writer in waiting:
        writer.write(GET)  # the kernel took the connection; the gateway has not, yet
    await asyncio.sleep(0.3)
    assert gateway.listener.open == 3
    assert gateway.listener.refusals >= 1
    for reader, _ in waiting:
        assert not reader._buffer  # type: ignore[attr-defined]  # no answer while waiting
    for _, writer in first[:2]:
        writer.close()
    for reader, writer in waiting:
        async with asyncio.timeout(5):
            assert status_of(await reader.readuntil(b"\r\n\r\n")) == 200
        writer.close()
    first[2][1].close()


def _few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, 96))


async def test_out_of_descriptors_every_client_is_answered_in_turn(tmp_path: Path) -> None:
    upstream = await FakeUpstream("u0").start()
    port = free_port()
    config = tmp_path / "mesh.yaml"
    config.write_text(f"""
listen: {{host: 127.0.0.1, port: {port}}}
services:
  - name: app
    instances: [{{id: u0, host: 127.0.0.1, port: {upstream.port}}}]
routes:
  - {{name: all, match: {{prefix: /}}, service: app}}
""")
    process = await asyncio.create_subprocess_exec(
        str(MESHKIT), "run", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_few_descriptors,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            banner = await process.stdout.readline()
        assert b"up to 32 client connections; open-file limit raised from 48 to 96" in banner
        upstream.delay = 0.2  # so that clients pile up: 150 at once against 96 descriptors
        clients = [await _ask(port) for _ in range(150)]
        async with asyncio.timeout(30):
            answers = [await task for _, task in clients]
    finally:
        process.terminate()
        async with asyncio.timeout(20):
            _, errors = await process.communicate()
        await upstream.stop()
    assert [status_of(a) if a else None for a in answers] == [200] * 150
    assert b"not accepting new connections for now" in errors
    assert b"Traceback" not in errors
