"""Tunnels: after an upgrade request and the upstream's ``101 Switching Protocols``, the
exchange relays raw bytes both ways (WebSocket and other upgrades) until one end closes.
What the client sent after its request while the upstream had not answered yet is held by
the client connection, and goes first (or, if the upstream declines, is read as the next
requests).

A base of :class:`~meshkit.gateway.exchange.ProxyExchange` (after :class:`LocalAnswers`, in
one line so that the slotted layouts stack); the attributes it uses besides its own two are
the exchange's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshkit.gateway.exchange_local import LocalAnswers
from meshkit.gateway.http1 import response_head_bytes
from meshkit.gateway.response_head import ResponseHead

if TYPE_CHECKING:
    from meshkit.gateway.connection import ClientConnection
    from meshkit.gateway.upstream import UpstreamConnection

__all__ = ["Tunnel"]


class Tunnel(LocalAnswers):
    __slots__ = ("_tunnel_open",)
    _tunnel_open: bool

    # provided by ProxyExchange
    client: ClientConnection
    _conn: UpstreamConnection | None
    _done: bool
    _request_id: bytes
    _started_response: bool

    def _open_tunnel(self, head: ResponseHead, upgrade: bytes) -> None:
        value = next((v for k, v in head.headers if k == b"upgrade"), upgrade)
        headers = [*head.headers, (b"x-request-id", self._request_id)]
        self._started_response = True
        self._tunnel_open = True
        self.client.write(
            response_head_bytes(101, headers, content_length=None, keep_alive=True, upgrade=value)
        )
        held = self.client.open_tunnel()
        if held and self._conn is not None:
            self._conn.write(held)
        self._cancel_timer()  # a tunnel lives as long as both ends want it

    def tunnel_from_client(self, data: bytes) -> None:
        conn = self._conn
        if self._tunnel_open and conn is not None:
            conn.write(data)

    def tunnel_from_upstream(self, data: bytes) -> None:
        if not self._done:
            self.client.write(data)
