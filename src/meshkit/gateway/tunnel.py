"""A tunnel: after an upgrade request and the upstream's ``101 Switching Protocols``, raw
bytes both ways (WebSocket and other upgrades) until one end closes.

Its own small object, made by the exchange when the upstream agrees to switch: the client
connection hands it what the client sends, the upstream connection what the upstream sends.
What the client sent after its request while the upstream had not answered yet is held by
the client connection and goes first (or, if the upstream declines, is read as the next
requests). Its life — back-pressure, either end closing — stays the exchange's: the tunnel
only carries bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshkit.gateway.http1 import response_head_bytes
from meshkit.gateway.response_head import ResponseHead

if TYPE_CHECKING:
    from meshkit.gateway.connection import ClientConnection
    from meshkit.gateway.upstream import UpstreamConnection

__all__ = ["Tunnel", "open_tunnel"]


class Tunnel:
    __slots__ = ("client", "upstream")

    def __init__(self, client: ClientConnection, upstream: UpstreamConnection) -> None:
        self.client = client
        self.upstream = upstream

    def from_client(self, data: bytes) -> None:
        self.upstream.write(data)

    def from_upstream(self, data: bytes) -> None:
        self.client.write(data)


def open_tunnel(
    client: ClientConnection,
    upstream: UpstreamConnection,
    head: ResponseHead,
    upgrade: bytes,
    request_id: bytes,
) -> None:
    """The upstream agreed to switch (``head``: its 101): tell the client, and from now on
    relay raw bytes both ways — first what the client sent meanwhile."""
    value = next((v for k, v in head.headers if k == b"upgrade"), upgrade)
    headers = [*head.headers, (b"x-request-id", request_id)]
    client.write(
        response_head_bytes(101, headers, content_length=None, keep_alive=True, upgrade=value)
    )
    tunnel = Tunnel(client, upstream)
    upstream.tunnel = tunnel
    held = client.open_tunnel(tunnel)
    if held:
        upstream.write(held)
