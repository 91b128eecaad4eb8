"""Scene: discovery, health checks and balancing — an instance stops, traffic moves, it returns.

Three real HTTP upstreams on 127.0.0.1 register as ``orders``, with HTTP health checks every
100 ms. A client sends a request every 10 ms through ``mesh.transport()`` (smooth weighted
round robin, 2 attempts, 1.5 s slow start). At 1.0 s ``orders-2`` stops: the few requests that
still reach it are retried elsewhere, its breaker and then its health check take it out. At
2.0 s it starts again: once passing it rejoins at a tenth of its weight and ramps up.
"""

from __future__ import annotations

import httpx

from meshkit.clock import Clock
from meshkit.demo.tables import heading, table
from meshkit.errors import MeshError
from meshkit.health import HealthStatusChanged
from meshkit.mesh import ServiceMesh
from meshkit.resilience import RetryScheduled
from meshkit.testing import EventRecorder, FakeUpstream

__all__ = ["run"]

SLICE = 0.25
STOP_AT, START_AT, END_AT = 1.0, 2.0, 4.0
NAMES = ("orders-0", "orders-1", "orders-2")


async def run(clock: Clock) -> None:
    upstreams = {name: await FakeUpstream(name).start() for name in NAMES}
    try:
        async with ServiceMesh(clock=clock) as mesh:
            await _show(mesh, upstreams, clock)
    finally:
        for upstream in upstreams.values():
            await upstream.stop()


async def _show(mesh: ServiceMesh, upstreams: dict[str, FakeUpstream], clock: Clock) -> None:
    recorder = EventRecorder(mesh.events, types=(HealthStatusChanged, RetryScheduled))
    await mesh.register_service(
        {
            "name": "orders",
            "policy": {"algorithm": "weighted_round_robin", "max_attempts": 2, "slow_start": 1.5},
        }
    )
    for name, upstream in upstreams.items():
        await mesh.register(
            {"id": name, "service": "orders", "host": "127.0.0.1", "port": upstream.port,
             "check": {"kind": "http", "path": "/health", "interval": 0.1, "timeout": 0.1}}
        )  # fmt: skip
    start = clock.monotonic()
    wall_start = clock.time()
    rows = []
    target = upstreams["orders-2"]
    async with httpx.AsyncClient(transport=mesh.transport()) as http:
        slice_end = SLICE
        counts = dict.fromkeys(NAMES, 0)
        failed = 0
        while (elapsed := clock.monotonic() - start) < END_AT:
            if elapsed >= STOP_AT and target.running and elapsed < START_AT:
                await target.stop()
            elif elapsed >= START_AT and not target.running:
                await target.start()
            try:
                reply = await http.get("http://orders/order/42")
                counts[reply.text.split()[0]] += 1
            except (MeshError, httpx.HTTPError):
                failed += 1
            if elapsed >= slice_end:
                status = mesh.catalog.instance("orders-2").status.value
                rows.append(_row(slice_end, counts, failed, status))
                counts = dict.fromkeys(NAMES, 0)
                failed = 0
                slice_end += SLICE
            await clock.sleep(0.01)
    heading(
        "Service mesh: orders-2 stops at 1.0 s and starts again at 2.0 s",
        "Requests per instance per quarter second; failures are after one retry elsewhere.",
    )
    table(("until", *NAMES, "failed", "orders-2 health"), rows)
    retries = len(recorder.of(RetryScheduled))
    log = [
        (f"{e.at - wall_start:.2f} s", e.target.instance_id, f"{e.previous} -> {e.current}")
        for e in recorder.of(HealthStatusChanged)
        if e.previous.value != "unknown"
    ]
    heading("Health log", f"{retries} requests were retried on another instance meanwhile.")
    table(("at", "instance", "change"), log)


def _row(until: float, counts: dict[str, int], failed: int, status: str) -> tuple[object, ...]:
    total = sum(counts.values()) or 1
    shares = [f"{counts[n]:>3} ({counts[n] / total:>4.0%})" for n in NAMES]
    return (f"{until:.2f} s", *shares, failed, status)
