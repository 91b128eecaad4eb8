"""Run a gateway in the foreground until SIGINT or SIGTERM, then drain and exit."""

from __future__ import annotations

import asyncio
import signal

import click

from meshkit.gateway.config import GatewayConfig
from meshkit.gateway.proxy import Gateway

__all__ = ["serve"]


async def _main(config: GatewayConfig, drain: float) -> int:
    gateway = Gateway(config)
    try:
        await gateway.start()
    except OSError as exc:
        click.echo(f"cannot listen on {config.listen.host}:{config.listen.port}: {exc}", err=True)
        await gateway.stop(0)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    routes = len(config.routes)
    click.echo(
        f"meshkit gateway listening on {config.listen.host}:{gateway.port} ({routes} routes)"
    )
    await stop.wait()
    click.echo(f"draining (up to {drain:g}s)")
    await gateway.stop(drain)
    return 0


def serve(config: GatewayConfig, *, drain: float = 10.0) -> int:
    """Run until a stop signal; the process exit status."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
        return asyncio.run(_main(config, drain))
    return uvloop.run(_main(config, drain))
