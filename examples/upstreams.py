"""Three sample upstreams for examples/gateway.yaml (ports 9101-9103), until Ctrl-C."""

from __future__ import annotations

import asyncio

from meshkit.testing import FakeUpstream


async def main() -> None:
    servers = [
        FakeUpstream("orders-1", port=9101),
        FakeUpstream("orders-2", port=9102),
        FakeUpstream("users-1", port=9103),
    ]
    for server in servers:
        await server.start()
        print(f"{server.name} on 127.0.0.1:{server.port}", flush=True)  # seen at once in a pipe
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
