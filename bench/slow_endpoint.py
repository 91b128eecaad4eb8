"""Linkerd's balancer experiment, scaled down: one of ten endpoints turns 20x slower mid-run.

Ten real HTTP/1.1 upstreams listen on 127.0.0.1 in a separate process; each answers after
``--base-ms``. Clients (``--concurrency`` workers) call the service for ``--seconds`` through a
``ServiceMesh`` with the balancer under test and a fixed ``--timeout-ms``; halfway through, one
upstream starts answering after 20 x ``--base-ms``. A call succeeds if it returns 2xx within
the timeout. Breakers and outlier detection are off, so the balancer alone decides.

The client must not be the bottleneck: on a saturated event loop every measured latency
includes the loop's own queueing (at 20 workers on this 2-core box, ~60 ms for a 10 ms
upstream), which blurs what the balancers see. 8 workers keep the loop unsaturated.

Linkerd's published result (Beyond Round Robin, 2016): round robin 95 % success, least loaded
99 %, peak-EWMA 99.9 %. Required here: ``p2c_ewma`` >= 0.999 and above ``round_robin``.

Run: ``.venv/bin/python bench/slow_endpoint.py``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from typing import Any

import httpx

from meshkit.errors import MeshError
from meshkit.mesh import ServiceMesh

ALGORITHMS = ("round_robin", "least_request", "p2c_ewma")
PUBLISHED = {"round_robin": 0.95, "least_request": 0.99, "p2c_ewma": 0.999}
ENDPOINTS = 10
SLOWDOWN = 20


class _Upstream(asyncio.Protocol):
    """A minimal keep-alive HTTP/1.1 responder; ``/__slow`` and ``/__fast`` set its delay."""

    def __init__(self, state: dict[str, float]) -> None:
        self.state = state
        self.buffer = b""
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1]
            if path == b"/__slow":
                self.state["delay"] = self.state["base"] * SLOWDOWN
            elif path == b"/__fast":
                self.state["delay"] = self.state["base"]
            loop = asyncio.get_running_loop()
            loop.call_later(self.state["delay"], self._reply)

    def _reply(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


def _serve(ports: Any, base: float) -> None:
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = []
        for _ in range(ENDPOINTS):
            state = {"base": base, "delay": base}
            server = await loop.create_server(lambda s=state: _Upstream(s), "127.0.0.1", 0)
            servers.append(server)
        ports.send([s.sockets[0].getsockname()[1] for s in servers])
        await asyncio.Event().wait()

    uvloop.run(main())


async def _run(algorithm: str, ports: list[int], args: argparse.Namespace) -> dict[str, Any]:
    async with ServiceMesh(outlier=None) as mesh:
        await mesh.register_service(
            {"name": "svc", "policy": {"algorithm": algorithm, "breaker": False}}
        )
        for i, port in enumerate(ports):
            await mesh.register(
                {"id": f"e{i}", "service": "svc", "host": "127.0.0.1", "port": port}
            )
        timeout = args.timeout_ms / 1000
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        inner = httpx.AsyncHTTPTransport(limits=limits)
        ok = failed = 0
        deadline = time.monotonic() + args.seconds
        switch_at = time.monotonic() + args.seconds / 2
        async with (
            httpx.AsyncClient(transport=mesh.transport(inner=inner)) as client,
            httpx.AsyncClient() as control,
        ):

            async def worker() -> None:
                nonlocal ok, failed
                while time.monotonic() < deadline:
                    try:
                        async with asyncio.timeout(timeout):
                            reply = await client.get("http://svc/")
                        ok += reply.status_code < 300
                        failed += reply.status_code >= 300
                    except (TimeoutError, MeshError, httpx.HTTPError):
                        failed += 1

            async def slow_down() -> None:
                await asyncio.sleep(max(0.0, switch_at - time.monotonic()))
                await control.get(f"http://127.0.0.1:{ports[3]}/__slow")

            await asyncio.gather(slow_down(), *(worker() for _ in range(args.concurrency)))
            await control.get(f"http://127.0.0.1:{ports[3]}/__fast")
    total = ok + failed
    return {"success": ok / total if total else 0.0, "requests": total, "failed": failed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--base-ms", type=float, default=10.0)
    parser.add_argument("--timeout-ms", type=float, default=100.0)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    upstreams = context.Process(target=_serve, args=(sender, args.base_ms / 1000), daemon=True)
    upstreams.start()
    try:
        if not receiver.poll(30):
            print("the upstream process did not start")
            return 2
        ports = receiver.recv()
        import uvloop

        results = {alg: uvloop.run(_run(alg, ports, args)) for alg in ALGORITHMS}
    finally:
        upstreams.terminate()
        upstreams.join(5)
    print(f"{'algorithm':<15}{'success':>10}{'requests':>10}{'failed':>8}{'published':>11}")
    for alg, r in results.items():
        print(
            f"{alg:<15}{r['success']:>10.4f}{r['requests']:>10}{r['failed']:>8}{PUBLISHED[alg]:>11}"
        )
    ewma, rr = results["p2c_ewma"]["success"], results["round_robin"]["success"]
    ok = ewma >= 0.999 and ewma > rr
    print("meets the requirements" if ok else "MISSES the requirements")
    line = {alg: round(r["success"], 5) for alg, r in results.items()}
    line |= {
        "requests": {alg: r["requests"] for alg, r in results.items()},
        "published": PUBLISHED,
        "endpoints": ENDPOINTS,
        "slowdown": SLOWDOWN,
        "base_ms": args.base_ms,
        "timeout_ms": args.timeout_ms,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
    }
    print(json.dumps(line))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
