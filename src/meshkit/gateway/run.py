"""Run a gateway in the foreground: reload on SIGHUP or when the file changes (see
:mod:`meshkit.gateway.reloader`); drain and exit on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from pathlib import Path

import click

from meshkit import __version__
from meshkit._build import (
    PURE_BUILD_WARNING,
    data_path_compiled,
    stale_compiled_modules,
)
from meshkit.clock import SYSTEM_CLOCK
from meshkit.errors import ConfigError
from meshkit.gateway.config import GatewayConfig
from meshkit.gateway.gateway import Gateway
from meshkit.gateway.listener import raise_open_file_limit
from meshkit.gateway.reloader import Reloader
from meshkit.gateway.settle import FileStamp

__all__ = ["serve"]


def _report(message: str, error: bool) -> None:
    click.echo(message, err=error)


async def _main(
    config: GatewayConfig, drain: float, path: _Source | None, *, reuse_port: bool = False
) -> int:
    before, after = raise_open_file_limit()
    try:
        gateway = Gateway(config)
    except ConfigError as exc:  # a check only building the gateway makes (validate runs it too)
        click.echo(f"invalid: {exc}", err=True)
        return 2
    try:
        await gateway.start(reuse_port=reuse_port)
    except OSError as exc:
        click.echo(f"cannot listen on {config.listen.host}:{config.listen.port}: {exc}", err=True)
        await gateway.stop(0)
        return 1
    _settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watcher = None
    if path is not None:
        file, running = path
        reloader = Reloader(
            file, gateway.reload, config.reload, running=running, clock=SYSTEM_CLOCK, report=_report
        )
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reloader.reload("SIGHUP")))
        watcher = loop.create_task(reloader.watch())
    routes = _count(len(config.routes), "route")
    build = "compiled" if data_path_compiled() else "pure Python"
    if build != "compiled":
        click.echo(PURE_BUILD_WARNING, err=True)
    stale = stale_compiled_modules()
    if stale:
        click.echo(
            f"warning: compiled modules older than their source run: {', '.join(stale)} "
            "(run `make` to rebuild them, or `make pure`)",
            err=True,
        )
    click.echo(
        f"meshkit {__version__} gateway listening on {config.listen.host}:{gateway.port} "
        f"({routes}; data path: {build}; "
        f"up to {gateway.listener.max_connections} client connections"
        + (f"; open-file limit raised from {before} to {after})" if after > before else ")")
    )
    await stop.wait()
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    click.echo(f"draining (up to {drain:g}s)")
    await gateway.stop(drain)
    return 0


def _settle_heap() -> None:
    """Started: what exists now (modules, config, routes, pools) lives as long as the process,
    so it leaves the garbage collector's view (``gc.freeze``): a full collection then walks
    only what requests made, instead of every object the start-up left, which shows in the
    latency of whichever request it interrupts. The young generation is collected less often
    too: a request's objects are freed by reference counting, not by the collector."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])


_GC_YOUNG = 7_000  # ten times Python's default


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# The config file to reload from, and the stamp of the version `config` was read from.
_Source = tuple[Path, FileStamp | None]


def serve(
    config: GatewayConfig,
    *,
    drain: float = 10.0,
    path: str | Path | None = None,
    running: FileStamp | None = None,
) -> int:
    """Run until a stop signal; the process exit status. With ``path``, reload from it on
    SIGHUP or when it changes (``running``: the stamp of the version ``config`` came from, see
    :func:`~.config_load.read_config`). With ``config.workers`` > 1, fork that many workers
    sharing the port and relay signals to them."""
    source = (Path(path), running) if path is not None else None
    if config.workers > 1:
        return _supervise(config, drain, source)
    return _run_loop(config, drain, source, reuse_port=False)


def _run_loop(
    config: GatewayConfig, drain: float, path: _Source | None, *, reuse_port: bool
) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
        return asyncio.run(_main(config, drain, path, reuse_port=reuse_port))
    return uvloop.run(_main(config, drain, path, reuse_port=reuse_port))


def _supervise(config: GatewayConfig, drain: float, path: _Source | None) -> int:
    """Fork the workers (before any event loop exists), relay signals, reap them."""
    children: list[int] = []
    for _ in range(config.workers):
        pid = os.fork()
        if pid == 0:  # a worker
            code = 1
            try:
                code = _run_loop(config, drain, path, reuse_port=True)
            finally:
                os._exit(code)
        children.append(pid)

    def relay(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, relay)
    failed = False
    for child in children:
        _, status = os.waitpid(child, 0)
        failed = failed or os.waitstatus_to_exitcode(status) != 0
    return 1 if failed else 0
