"""Reloading ``meshkit run``'s config file: on SIGHUP at once, and when the file changes once it
has settled (see :mod:`meshkit.gateway.settle` for when that is).

This is the I/O around the decision: read the file's bytes and stamp them, ask the gate, parse
and validate exactly the bytes that were stamped, hand a valid config to the gateway. A file
that does not read, parse or validate is reported once and the running config keeps serving.
The file is opened by path at every look, so an atomic rename (write a temporary file, rename
it over the config) is picked up like an edit. Reloads never overlap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from meshkit.clock import Clock
from meshkit.errors import ConfigError
from meshkit.gateway.config import GatewayConfig, ReloadConfig
from meshkit.gateway.config_load import config_from, read_stamped
from meshkit.gateway.settle import FileStamp, SettleGate, Verdict

__all__ = ["Reloader"]

Report = Callable[[str, bool], None]  # (message, is_error)
_log = logging.getLogger("meshkit.gateway.reloader")


class Reloader:
    """Applies new versions of ``path`` through ``apply`` (the gateway's ``reload``);
    ``running`` is the stamp of the version in force (:func:`~.config_load.read_config`)."""

    def __init__(
        self,
        path: Path,
        apply: Callable[[GatewayConfig], Awaitable[None]],
        settings: ReloadConfig,
        *,
        running: FileStamp | None,
        clock: Clock,
        report: Report,
    ) -> None:
        self.path = path
        self.settings = settings
        self._apply = apply
        self._clock = clock
        self._report = report
        self._lock = asyncio.Lock()
        # The version `meshkit run` started with counts as tried: no reload right after start.
        self.gate = SettleGate(settings.settle, running)

    async def reload(self, reason: str) -> None:
        """Read, validate and apply the file now (SIGHUP)."""
        async with self._lock:
            snapshot = read_stamped(self.path)
            if snapshot is None:
                self._report(f"reload refused ({reason}): cannot read {self.path}", True)
                return
            await self._try(*snapshot, reason)

    async def watch(self) -> None:
        """Look at the file every ``settings.poll`` seconds, forever (cancel to stop)."""
        while True:
            await self._clock.sleep(self.settings.poll)
            if not self.settings.watch:
                continue  # SIGHUP only; a reload may switch watching back on
            async with self._lock:
                snapshot = read_stamped(self.path)
                stamp = snapshot[1] if snapshot is not None else None
                verdict = self.gate.observe(stamp, self._clock.monotonic())
                if verdict is Verdict.APPLY and snapshot is not None:
                    await self._try(*snapshot, "file changed")

    async def _try(self, data: bytes, stamp: FileStamp, reason: str) -> None:
        self.gate.tried_version(stamp)
        try:
            config = config_from(data, source=str(self.path), directory=self.path.resolve().parent)
            await self._apply(config)
        except ConfigError as exc:
            problems = "\n".join(f"  {line}" for line in exc.problems)
            self._report(
                f"reload refused ({reason}); still serving the old config:\n{problems}", True
            )
            return
        except Exception as exc:  # a defect in applying: the watcher must outlive it
            _log.exception("reloading %s failed", self.path)
            self._report(f"reload failed ({reason}): {exc!r}; see the log", True)
            return
        self.settings = config.reload
        self.gate.settle = config.reload.settle
        self._report(f"reloaded {self.path} ({reason})", False)
