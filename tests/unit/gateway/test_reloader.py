"""The file watcher's loop on a fake clock, over real files: what gets applied, and when."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meshkit.clock import FakeClock
from meshkit.gateway.config import GatewayConfig, ReloadConfig
from meshkit.gateway.config_load import read_config
from meshkit.gateway.reloader import Reloader
from meshkit.gateway.settle import FileStamp

SERVICES = "services: [{name: app, instances: [{id: a, host: 127.0.0.1, port: 9}]}]\n"


def routes(prefix: str) -> str:
    return f"routes: [{{name: main, match: {{prefix: {prefix}}}, service: app}}]\n"


def write(path: Path, data: str | bytes) -> None:
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def remove(path: Path) -> None:
    path.unlink()


class Harness:
    def __init__(
        self,
        path: Path,
        clock: FakeClock,
        settings: ReloadConfig,
        running: FileStamp | None = None,
    ) -> None:
        self.applied: list[GatewayConfig] = []
        self.messages: list[tuple[str, bool]] = []
        self.reloader = Reloader(
            path,
            self._apply,
            settings,
            running=running or read_config(path)[1],
            clock=clock,
            report=lambda message, error: self.messages.append((message, error)),
        )

    async def _apply(self, config: GatewayConfig) -> None:
        self.applied.append(config)

    @property
    def prefixes(self) -> list[str | None]:
        return [c.routes[0].match.prefix if c.routes else None for c in self.applied]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "mesh.yaml"
    file.write_text(SERVICES + routes("/old"))
    return file


@pytest.fixture
async def watching(path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    harness = Harness(path, clock, ReloadConfig(settle=3.0, poll=1.0))
    task = asyncio.ensure_future(harness.reloader.watch())
    yield harness
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_file_written_in_two_steps_is_applied_only_whole(
    path: Path, clock: FakeClock, watching: Harness
) -> None:
    write(path, SERVICES)  # the first half: valid, but no routes (every request a 404)
    await clock.run_for(2.5)
    write(path, SERVICES + routes("/new"))  # the rest, 2.5 s later
    await clock.run_for(3.4)  # looks at 3, 4, 5: the whole file has not settled yet
    assert watching.applied == []
    await clock.run_for(0.1)  # the look at 6: unchanged since 3
    assert watching.prefixes == ["/new"]
    await clock.run_for(10)
    assert watching.prefixes == ["/new"]  # applied once
    assert watching.messages == [(f"reloaded {path} (file changed)", False)]


async def test_an_atomic_rename_is_picked_up(
    path: Path, clock: FakeClock, watching: Harness
) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(SERVICES + routes("/renamed"))
    os.replace(temporary, path)  # a new inode under the watched path
    await clock.run_for(4)
    assert watching.prefixes == ["/renamed"]


async def test_a_bad_file_is_reported_once_and_nothing_is_applied(
    path: Path, clock: FakeClock, watching: Harness
) -> None:
    write(path, b"services: []\nroutes: [{name: caf\xe9}]\n")
    await clock.run_for(20)
    assert watching.applied == []
    assert watching.messages == [
        (
            "reload refused (file changed); still serving the old config:\n"
            f"  {path}:2:20: not valid UTF-8 (byte 0xe9); save the file as UTF-8",
            True,
        )
    ]
    write(path, SERVICES + routes("/fixed"))
    await clock.run_for(4)
    assert watching.prefixes == ["/fixed"]


async def test_a_missing_file_keeps_the_old_config(
    path: Path, clock: FakeClock, watching: Harness
) -> None:
    remove(path)
    await clock.run_for(20)
    assert (watching.applied, watching.messages) == ([], [])


async def test_sighup_applies_at_once_and_the_watcher_leaves_that_version_alone(
    path: Path, clock: FakeClock, watching: Harness
) -> None:
    write(path, SERVICES + routes("/now"))
    await watching.reloader.reload("SIGHUP")
    assert watching.prefixes == ["/now"]
    await clock.run_for(20)
    assert watching.prefixes == ["/now"]


async def test_with_watch_off_only_sighup_reloads(path: Path, clock: FakeClock) -> None:
    write(path, SERVICES + routes("/old") + "reload: {watch: false}\n")
    harness = Harness(path, clock, ReloadConfig(watch=False))
    task = asyncio.ensure_future(harness.reloader.watch())
    try:
        write(path, SERVICES + routes("/edited") + "reload: {watch: false}\n")
        await clock.run_for(60)
        assert harness.applied == []
        await harness.reloader.reload("SIGHUP")
        assert harness.prefixes == ["/edited"]
        # The file turns watching back on, with its own settling interval.
        write(path, SERVICES + routes("/watched") + "reload: {settle: 0s}\n")
        await harness.reloader.reload("SIGHUP")
        write(path, SERVICES + routes("/auto") + "reload: {settle: 0s}\n")
        await clock.run_for(1)
        assert harness.prefixes == ["/edited", "/watched", "/auto"]
    finally:
        task.cancel()


async def test_an_edit_made_while_the_gateway_starts_is_not_lost(
    path: Path, clock: FakeClock
) -> None:
    _, started_with = read_config(path)  # what `meshkit run` validated...
    write(path, SERVICES + routes("/meanwhile"))  # ...before the file changed under it
    harness = Harness(path, clock, ReloadConfig(settle=3.0, poll=1.0), running=started_with)
    task = asyncio.ensure_future(harness.reloader.watch())
    try:
        await clock.run_for(4)
        assert harness.prefixes == ["/meanwhile"]
    finally:
        task.cancel()


async def test_duplicate_keys_on_reload_are_refused_and_the_old_config_serves(
    path: Path, clock: FakeClock, watching: Harness
) -> None:
    write(path, SERVICES + routes("/a") + "services: []\n")
    await watching.reloader.reload("SIGHUP")
    assert watching.applied == []
    assert watching.messages == [
        (
            "reload refused (SIGHUP); still serving the old config:\n"
            f"  {path}:3:1: services: duplicate key, already set on line 1; keys must be unique "
            "(the later one would silently replace the earlier)",
            True,
        )
    ]


async def test_a_failure_while_applying_is_reported_and_the_watcher_lives_on(
    path: Path, clock: FakeClock
) -> None:
    outcomes = iter([RuntimeError("bug"), None])

    async def apply(config: GatewayConfig) -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    messages: list[tuple[str, bool]] = []
    reloader = Reloader(
        path,
        apply,
        ReloadConfig(settle=0.0),
        running=read_config(path)[1],
        clock=clock,
        report=lambda message, error: messages.append((message, error)),
    )
    task = asyncio.ensure_future(reloader.watch())
    try:
        write(path, SERVICES + routes("/one"))
        await clock.run_for(1)
        write(path, SERVICES + routes("/two"))
        await clock.run_for(1)
    finally:
        task.cancel()
    assert messages == [
        ("reload failed (file changed): RuntimeError('bug'); see the log", True),
        (f"reloaded {path} (file changed)", False),
    ]
