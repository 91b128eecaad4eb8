"""The ``make demo`` showcase: scripted scenes on the real clock, printed as tables.

Each scene builds real policies around an in-process service whose failures are injected on a
script, drives real calls through them on the event loop, and prints what happened. Waits are
kept short (the whole show runs in a few seconds) and nothing leaves the process.
"""

from __future__ import annotations

import asyncio

import click

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.demo import scene_breaker, scene_gateway, scene_mesh, scene_ratelimit, scene_retry

__all__ = ["run_demo"]


async def _show(clock: Clock) -> None:
    await scene_breaker.run(clock)
    await scene_retry.run(clock)
    await scene_ratelimit.run(clock)
    await scene_mesh.run(clock)
    await scene_gateway.run(clock)


def run_demo(clock: Clock = SYSTEM_CLOCK) -> int:
    """Run every scene; return the process exit status."""
    click.secho("meshkit — showcase", bold=True)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
        asyncio.run(_show(clock))
    else:
        uvloop.run(_show(clock))
    click.echo()
    click.echo("Every figure above came from real calls through meshkit's policies.")
    return 0
