"""Relaying the upstream's answer to the client: the head (settling the lease, retrying a
502/503/504 elsewhere, editing headers, framing for the client) and the body as it streams.

A ``101 Switching Protocols`` nobody asked for is refused (502): relayed, it would turn the
client's connection into a raw pipe it never agreed to. For statuses that forbid a body
(1xx, 204, 304) no framing field is relayed, whatever the upstream sent. The head is framed
but held until the first body bytes, so a small answer leaves in one write; the body is
re-framed (chunked when the length is unknown) and the upstream's socket pauses while the
client's is full. A base of :class:`~meshkit.gateway.exchange.ProxyExchange`, stacked on
:class:`Tunnel` so the slotted layouts line up; besides its own two attributes it uses the
exchange's."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from meshkit.gateway.exchange_tunnel import Tunnel
from meshkit.gateway.http1 import RequestHead, response_head_bytes
from meshkit.gateway.response_head import ResponseHead
from meshkit.gateway.upstream import BadUpstreamResponse
from meshkit.health.outlier import ErrorKind
from meshkit.upstreams.retry_after import parse_retry_after

if TYPE_CHECKING:
    from meshkit.gateway.connection import ClientConnection
    from meshkit.gateway.router import Route

__all__ = ["Relay"]

_NO_BODY_STATUSES: Final = frozenset({204, 304})
_RETRY_STATUSES: Final = frozenset({502, 503, 504})


class Relay(Tunnel):
    __slots__ = ("_out_chunked", "_pending_head")
    _out_chunked: bool
    _pending_head: bytes

    # provided by ProxyExchange
    head: RequestHead
    client: ClientConnection
    _route: Route | None

    def response_head(self, head: ResponseHead) -> None:
        if self._done:
            return
        upgrade = self.head.upgrade
        if head.status == 101 and upgrade is None:
            self._settle(error=ErrorKind.RESET)  # a protocol switch nobody asked for
            self._answer_error(BadUpstreamResponse("an unsolicited 101 Switching Protocols"))
            return
        retry_after = None
        if head.retry_after is not None and head.status in (429, 503):
            retry_after = parse_retry_after(head.retry_after.decode("latin-1"))
        self._status = head.status
        self._settle(status=head.status, retry_after=retry_after)
        if head.status == 101 and upgrade is not None:
            self._open_tunnel(head, upgrade)
            return
        if (
            head.status in _RETRY_STATUSES
            and retry_after is None  # an upstream asking for time is not asked again at once
            and self._may_retry(stale=False)
        ):
            self._drop_conn()  # its answer is not wanted: the connection goes with it
            self._dispatch()
            return
        self._started_response = True
        route = self._route
        if route is None or not (
            route.remove_response_headers or route.add_response_headers or route.response_filters
        ):
            self._prepare_head(head, None)  # relayed from the upstream's bytes
            return
        headers = [*head.headers, (b"x-request-id", self._request_id)]
        if route.remove_response_headers or route.add_response_headers:
            removed = route.remove_response_headers
            headers = [(k, v) for k, v in headers if k not in removed]
            headers += route.add_response_headers
        if route.response_filters:
            self._hold = []  # body bytes wait until the filters have decided on the head
            if self._conn is not None:
                self._conn.transport.pause_reading()
            self._task = asyncio.get_running_loop().create_task(
                self._filter_response(head, headers)
            )
            return
        self._prepare_head(head, headers)

    def _prepare_head(self, head: ResponseHead, headers: list[tuple[bytes, bytes]] | None) -> None:
        """Frame the response head for the client; it goes out with the first body bytes.
        ``headers``: the fields to send, edited; ``None``: the upstream's, as they came."""
        request = self.head
        status = head.status
        forbidden = status in _NO_BODY_STATUSES or 100 <= status < 200  # no body, no framing
        no_body = forbidden or request.method == b"HEAD"
        length = None if head.chunked or forbidden else head.content_length
        http10 = request.version == "1.0"
        self._out_chunked = length is None and not no_body and not http10
        keep_alive = self._keep_alive() and not (http10 and length is None)
        close_delimited = http10 and length is None
        if headers is None:
            relayed = head.relayed(
                b"x-request-id: " + self._request_id + b"\r\n",
                content_length=length,
                keep_alive=keep_alive,
                no_body=no_body,
                close_delimited=close_delimited,
            )
            if relayed is not None:
                self._pending_head = relayed
                return
            headers = [*head.headers, (b"x-request-id", self._request_id)]
        self._pending_head = response_head_bytes(
            head.status,
            headers,
            content_length=length,
            keep_alive=keep_alive,
            no_body=no_body,
            close_delimited=close_delimited,
        )

    def response_body(self, chunk: bytes) -> None:
        if self._done:
            return
        if self._hold is not None:
            self._hold.append(chunk)
            return
        data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self._out_chunked else chunk
        if self._pending_head:
            data = self._pending_head + data  # head and first bytes in one write
            self._pending_head = b""
        self.client.write(data)
        if not self.client.writable and self._conn is not None:
            self._conn.transport.pause_reading()

    def response_end(self, keep_alive: bool) -> None:
        if self._done:
            return
        if self._hold is not None:
            self._held_end = keep_alive
            return
        tail = b"0\r\n\r\n" if self._out_chunked else b""
        self.client.write(self._pending_head + tail)
        self._pending_head = b""
        self._release_conn(reusable=keep_alive and self._request_read())
        self._finish(self._keep_alive())
