"""The TCP check: the target passes when it accepts a connection."""

from __future__ import annotations

import asyncio

from meshkit.health.status import CheckResult
from meshkit.health.target import CheckTarget

__all__ = ["TcpCheck"]


class TcpCheck:
    """Connect to ``target.host:target.port`` and hang up; a refusal or error is critical."""

    __slots__ = ()

    async def check(self, target: CheckTarget) -> CheckResult:
        loop = asyncio.get_running_loop()
        try:
            # A bare Protocol: no stream reader or buffers for a connection we close at once.
            transport, _ = await loop.create_connection(asyncio.Protocol, target.host, target.port)
        except OSError as exc:
            return CheckResult.critical(f"TCP {target.authority}: connect failed: {exc}")
        transport.close()
        return CheckResult.passing(f"TCP {target.authority}: connected")

    def __repr__(self) -> str:
        return "TcpCheck()"
