"""The gateway under attack and under a broken upstream: the measurements behind the
hardening issue, repeatable, against a real ``meshkit run`` process on loopback.

Each scenario starts a gateway (``--meshkit``: which executable, so that two builds can be
compared), plays its attack from this process with bounded counts and times, and reports
numbers: resident memory of the gateway (sampled every 10 ms), other clients' latency during
the attack, and counts of answers. The last line is JSON with one key per scenario:

* ``header_line``: four clients each send one 98 MiB header line while another client keeps
  asking; gateway RSS before / peak / after, the answer, the bytes the attacker got to send,
  the other client's p99.
* ``upstream_head``: an upstream answers with a 200 MiB header; RSS peak, answer, seconds.
* ``close_delimited``, ``unsolicited_101``, ``declined_upgrade``, ``pipelined_malformed``,
  ``no_body_framing``, ``continue_before_route``, ``underscores``, ``half_close``: what a
  client receives in each case.
* ``descriptors``: 1,500 clients at once against a gateway whose open-file limit is 1,024
  (soft and hard): how many got no answer.
* ``slow_bodies``: 1,100 clients trickling a body byte every 10 s while another client sends
  200 requests: how many of those failed.
* ``killed_upstream``: wrk at c=64 for 8 s while one of three nginx upstreams is stopped:
  non-2xx answers of all requests (needs nginx and wrk).

Run: ``.venv/bin/python bench/hardening.py [--meshkit PATH] [--only NAME,...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from _loopback import wait_port

GATEWAY_PORT = 18390
UPSTREAM_PORT = 18391
MiB = 1024 * 1024
GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"

MESH = """listen: {{host: 127.0.0.1, port: {gateway}}}
{limits}
services:
  - name: app
    policy: {{max_attempts: 2, algorithm: round_robin}}
    instances:
{instances}
routes:
  - {{name: all, service: app{route}}}
"""


# -- the gateway process -----------------------------------------------------------------------
class Gateway:
    def __init__(self, meshkit: str, process: subprocess.Popen[bytes]) -> None:
        self.meshkit = meshkit
        self.process = process
        self.ps = psutil.Process(process.pid)
        self.peak = 0

    def rss_mb(self) -> float:
        return round(self.ps.memory_info().rss / MiB, 1)

    @contextmanager
    def sampling(self) -> Iterator[None]:
        """Track the peak RSS every 10 ms while the block runs."""
        stop = threading.Event()
        self.peak = self.ps.memory_info().rss

        def sample() -> None:
            while not stop.is_set():
                try:
                    self.peak = max(self.peak, self.ps.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.01)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / MiB, 1)


@contextmanager
def gateway(
    meshkit: str,
    upstream_ports: list[int],
    *,
    limits: str = "",
    route: str = "",
    nofile: int | None = None,
) -> Iterator[Gateway]:
    tmp = Path(tempfile.mkdtemp(prefix="meshkit-hardening-"))
    instances = "\n".join(
        f"      - {{id: u{i}, host: 127.0.0.1, port: {port}}}"
        for i, port in enumerate(upstream_ports)
    )
    config = tmp / "mesh.yaml"
    config.write_text(
        MESH.format(gateway=GATEWAY_PORT, limits=limits, instances=instances, route=route)
    )

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    process = subprocess.Popen(
        [meshkit, "run", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=limit,  # noqa: PLW1509  (no thread runs yet: sampling starts later)
    )
    try:
        wait_port(GATEWAY_PORT)
        yield Gateway(meshkit, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(tmp, ignore_errors=True)


# -- upstreams in this process -------------------------------------------------------------------
Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A well-behaved upstream: 200 ``hello`` to each request (bodies read by length)."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                await reader.readexactly(int(line.split(b":")[1]))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()


async def serving(serve: Serve, port: int = UPSTREAM_PORT) -> asyncio.Server:
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # the scenario is over (its loop closing): end quietly
        finally:
            writer.close()

    return await asyncio.start_server(guarded, "127.0.0.1", port, limit=1 << 20)


# -- clients -------------------------------------------------------------------------------------
async def ask(data: bytes, *, timeout: float = 5.0, half_close: bool = False) -> bytes:
    """Send ``data``; everything received until the gateway closes or ``timeout`` passes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", GATEWAY_PORT)
    writer.write(data)
    if half_close:
        writer.get_extra_info("socket").shutdown(socket.SHUT_WR)
    received = b""
    try:
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                received += chunk
    except (TimeoutError, ConnectionError):
        pass
    writer.close()
    return received


def statuses(received: bytes) -> list[int]:
    return [int(part[:3]) for part in received.split(b"HTTP/1.1 ")[1:] if part[:3].isdigit()]


async def latencies_while(busy: asyncio.Task[object] | asyncio.Future[object]) -> list[float]:
    """One keep-alive client asking again and again until ``busy`` is done, for a second at
    least (seconds each)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", GATEWAY_PORT)
    seen: list[float] = []
    until = time.perf_counter() + 1.0  # at least a second's worth, however short the attack
    while not busy.done() or time.perf_counter() < until:
        started = time.perf_counter()
        writer.write(GET)
        await reader.readuntil(b"hello")
        seen.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    writer.close()
    return seen


def p99_ms(samples: list[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)


# -- scenarios -----------------------------------------------------------------------------------
async def header_line(meshkit: str) -> dict[str, object]:
    upstream = await serving(hello)
    try:
        with gateway(meshkit, [UPSTREAM_PORT], limits="limits: {header_timeout: 60}") as gw:
            await ask(GET, timeout=0.5)
            before = gw.rss_mb()
            quiet = await latencies_while(asyncio.create_task(asyncio.sleep(0)))
            sent: list[int] = []
            answers: list[bytes] = []

            async def attacker() -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", GATEWAY_PORT)
                heard = bytearray()

                async def listen() -> None:
                    with contextlib.suppress(ConnectionError):
                        while chunk := await reader.read(65536):
                            heard.extend(chunk)

                listening = asyncio.create_task(listen())
                writer.write(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ")
                total, block = 0, b"a" * 65536
                with contextlib.suppress(ConnectionError):
                    while total < 98 * MiB and not heard and not listening.done():
                        writer.write(block)
                        await writer.drain()
                        total += len(block)
                        await asyncio.sleep(0)  # (drain does not yield: let listen() look)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10):  # (an old build never answers)
                        await listening
                answers.append(bytes(heard))
                sent.append(total)
                writer.close()

            with gw.sampling():
                attackers = [asyncio.create_task(attacker()) for _ in range(4)]
                attack = asyncio.create_task(asyncio.wait(attackers))
                latency = await latencies_while(attack)
                await attack
            await asyncio.sleep(1.0)
            return {
                "rss_before_mb": before,
                "rss_peak_mb": gw.peak_mb,
                "rss_after_mb": gw.rss_mb(),
                "answers": [statuses(a)[0] if statuses(a) else None for a in answers],
                "attacker_sent_mib": round(max(sent) / MiB, 2),
                "other_p99_ms_quiet": p99_ms(quiet),
                "other_p99_ms": p99_ms(latency),
                "other_requests": len(latency),
            }
    finally:
        upstream.close()


async def upstream_head(meshkit: str) -> dict[str, object]:
    async def endless_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: ")
        block = b"a" * 65536
        for _ in range(200 * 16):  # 200 MiB
            writer.write(block)
            await writer.drain()

    upstream = await serving(endless_head)
    try:
        with gateway(meshkit, [UPSTREAM_PORT], route=", timeout: 30") as gw:
            before = gw.rss_mb()
            with gw.sampling():
                started = time.perf_counter()
                answer = await ask(
                    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", timeout=40
                )
                seconds = time.perf_counter() - started
            return {
                "rss_before_mb": before,
                "rss_peak_mb": gw.peak_mb,
                "answer": (statuses(answer) or [None])[0],
                "seconds": round(seconds, 3),
            }
    finally:
        upstream.close()


async def raw_answer(meshkit: str, raw: bytes, request: bytes) -> bytes:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        if b"Connection: close" in raw:
            writer.close()
        else:
            await asyncio.sleep(1.0)

    upstream = await serving(serve)
    try:
        with gateway(meshkit, [UPSTREAM_PORT]):
            return await ask(request, timeout=1.5)
    finally:
        upstream.close()


async def small_cases(meshkit: str) -> dict[str, object]:
    close = await raw_answer(
        meshkit, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world", GET
    )
    switch = await raw_answer(
        meshkit,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nRAW",
        GET,
    )
    no_body = await raw_answer(
        meshkit, b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", GET
    )
    cases: dict[str, object] = {
        "close_delimited": {
            "body_complete": close.endswith(b"0\r\n\r\n") and b"hello world" in close
        },
        "unsolicited_101": {
            "answer": (statuses(switch) or [None])[0],
            "raw_relayed": b"RAW" in switch,
        },
        "no_body_framing": {"content_length_relayed": b"content-length" in no_body.lower()},
    }
    seen: dict[str, str] = {}

    async def recording(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            seen["head"] = head.decode("latin-1")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":")[1]))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            await writer.drain()

    upstream = await serving(recording)
    try:
        with gateway(meshkit, [UPSTREAM_PORT], route=", match: {prefix: /api}"):
            h2c = await ask(
                b"GET /api/1 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                b"Upgrade: h2c\r\nHTTP2-Settings: AA\r\n\r\n"
                b"GET /api/2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            )
            pipelined = await ask(GET.replace(b"/", b"/api", 1) + b"G@T / HTTP/1.1\r\n\r\n")
            unrouted = await ask(
                b"POST /elsewhere HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                b"Expect: 100-continue\r\n\r\n",
                timeout=1.0,
            )
            await ask(
                b"GET /api HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n", timeout=1
            )
            underscore = "x_forwarded_for" in seen.get("head", "").lower()
            nc = await ask(GET.replace(b"/", b"/api", 1), half_close=True, timeout=2.0)
    finally:
        upstream.close()
    cases["declined_upgrade"] = {"statuses": statuses(h2c)}
    cases["pipelined_malformed"] = {"statuses": statuses(pipelined)}
    cases["continue_before_route"] = {"statuses": statuses(unrouted)}
    cases["underscores"] = {"relayed": underscore}
    cases["half_close"] = {"statuses": statuses(nc)}
    return cases


async def descriptors(meshkit: str) -> dict[str, object]:
    async def slowish(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.2)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            await writer.drain()

    upstream = await serving(slowish)
    try:
        with gateway(meshkit, [UPSTREAM_PORT], nofile=1024):
            closing = GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
            answers = await asyncio.gather(*(ask(closing, timeout=30) for _ in range(1500)))
    finally:
        upstream.close()
    answered = sum(1 for a in answers if statuses(a))
    return {"clients": 1500, "answered": answered, "no_answer": 1500 - answered}


async def slow_bodies(meshkit: str) -> dict[str, object]:
    upstream = await serving(hello)
    stop = asyncio.Event()

    async def trickler() -> None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", GATEWAY_PORT)
            writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n")
            while not stop.is_set():
                writer.write(b"x")
                try:
                    async with asyncio.timeout(10):
                        await stop.wait()
                except TimeoutError:
                    pass
            writer.close()
        except (ConnectionError, OSError):
            pass

    try:
        with gateway(meshkit, [UPSTREAM_PORT]):
            tricklers = [asyncio.create_task(trickler()) for _ in range(1100)]
            await asyncio.sleep(3.0)
            answers = [
                await ask(GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"), timeout=5)
                for _ in range(200)
            ]
            stop.set()
            await asyncio.gather(*tricklers)
    finally:
        upstream.close()
    failed = sum(1 for a in answers if statuses(a)[:1] != [200])
    return {"slow_clients": 1100, "requests": 200, "failed": failed}


def killed_upstream(meshkit: str) -> dict[str, object]:
    if shutil.which("nginx") is None or shutil.which("wrk") is None:
        return {"skipped": "needs nginx and wrk: apt-get install -y nginx wrk"}
    tmp = Path(tempfile.mkdtemp(prefix="meshkit-kill-"))
    ports = [18392, 18393, 18394]
    confs = []
    for port in ports:
        conf = tmp / f"nginx-{port}.conf"
        conf.write_text(
            f"worker_processes 1; daemon on; pid {tmp}/nginx-{port}.pid; "
            f"error_log {tmp}/error-{port}.log warn; events {{ worker_connections 4096; }} "
            f"http {{ access_log off; keepalive_requests 100000000; server {{ listen "
            f'127.0.0.1:{port}; location / {{ return 200 "hello world\\n"; }} }} }}'
        )
        subprocess.run(["nginx", "-c", str(conf)], check=True)
        confs.append(conf)
    try:
        with gateway(meshkit, ports):
            wrk = subprocess.Popen(
                ["wrk", "-t1", "-c64", "-d8s", f"http://127.0.0.1:{GATEWAY_PORT}/"],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(3.0)
            subprocess.run(["nginx", "-c", str(confs[0]), "-s", "stop"], check=False)
            out, _ = wrk.communicate(timeout=30)
    finally:
        for conf in confs:
            subprocess.run(
                ["nginx", "-c", str(conf), "-s", "stop"], check=False, capture_output=True
            )
    import re

    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": total,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sockets.group(1) if sockets else "none",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meshkit", default=str(Path(sys.executable).with_name("meshkit")))
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    results: dict[str, object] = {}
    scenarios: list[tuple[str, Callable[[str], Awaitable[dict[str, object]]]]] = [
        ("header_line", header_line),
        ("upstream_head", upstream_head),
        ("small", small_cases),
        ("descriptors", descriptors),
        ("slow_bodies", slow_bodies),
    ]
    for name, scenario in scenarios:
        if only and name not in only:
            continue
        outcome = asyncio.run(scenario(args.meshkit))
        if name == "small":
            results.update(outcome)
        else:
            results[name] = outcome
        print(f"{name}: {json.dumps(outcome)}", flush=True)
    if not only or "killed_upstream" in only:
        results["killed_upstream"] = killed_upstream(args.meshkit)
        print(f"killed_upstream: {json.dumps(results['killed_upstream'])}", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
