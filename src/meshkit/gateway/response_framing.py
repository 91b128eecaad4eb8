"""How a response is framed for the client: a pure decision from the request and the
upstream's head (RFC 9112 §6).

* Statuses that forbid a body (1xx, 204, 304) get no framing field, whatever the upstream
  sent; a HEAD request's answer keeps its ``Content-Length`` but carries no body.
* A known length is relayed as ``Content-Length``; an unknown one (the upstream sent chunked,
  or delimited its body by closing) is re-framed chunked for an HTTP/1.1 client, and for an
  HTTP/1.0 client — which cannot read chunked — delimited by closing the connection.
* Keep-alive holds when the gateway and the client want it and the framing allows it.
"""

from __future__ import annotations

from typing import Final

from meshkit.gateway.http1 import RequestHead, response_head_bytes
from meshkit.gateway.response_head import ResponseHead

__all__ = ["Framing", "client_head", "frame_response"]

_NO_BODY_STATUSES: Final = frozenset({204, 304})


class Framing:
    """The framing chosen for one response (see :func:`frame_response`)."""

    __slots__ = ("chunked", "close_delimited", "content_length", "keep_alive", "no_body")

    def __init__(
        self,
        *,
        content_length: int | None,
        chunked: bool,
        keep_alive: bool,
        no_body: bool,
        close_delimited: bool,
    ) -> None:
        self.content_length = content_length  # None: not relayed (chunked, closing, none)
        self.chunked = chunked  # the gateway re-frames the body in chunks
        self.keep_alive = keep_alive
        self.no_body = no_body
        self.close_delimited = close_delimited  # the body ends where the connection closes

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Framing({fields})"


def frame_response(
    *,
    method: bytes,
    http10: bool,
    status: int,
    upstream_chunked: bool,
    upstream_length: int | None,
    keep_alive: bool,
) -> Framing:
    """The framing for the client. ``keep_alive``: whether the gateway and the client would
    keep the connection (the framing may still forbid it)."""
    forbidden = status in _NO_BODY_STATUSES or 100 <= status < 200
    no_body = forbidden or method == b"HEAD"
    length = None if upstream_chunked or forbidden else upstream_length
    unknown = length is None
    return Framing(
        content_length=length,
        chunked=unknown and not no_body and not http10,
        keep_alive=keep_alive and not (http10 and unknown),
        no_body=no_body,
        close_delimited=http10 and unknown,
    )


def client_head(
    request: RequestHead,
    head: ResponseHead,
    headers: list[tuple[bytes, bytes]] | None,
    *,
    keep_alive: bool,
    request_id: bytes,
) -> tuple[bytes, bool]:
    """The response head for the client, and whether its body is re-framed in chunks.
    ``headers``: the fields to send (edited by filters); ``None``: the upstream's as they
    came, relayed from its own bytes when nothing in them must change."""
    framing = frame_response(
        method=request.method,
        http10=request.version == "1.0",
        status=head.status,
        upstream_chunked=head.chunked,
        upstream_length=head.content_length,
        keep_alive=keep_alive,
    )
    if headers is None:
        relayed = head.relayed(
            b"x-request-id: " + request_id + b"\r\n",
            content_length=framing.content_length,
            keep_alive=framing.keep_alive,
            no_body=framing.no_body,
            close_delimited=framing.close_delimited,
        )
        if relayed is not None:
            return relayed, framing.chunked
        headers = [*head.headers, (b"x-request-id", request_id)]
    data = response_head_bytes(
        head.status,
        headers,
        content_length=framing.content_length,
        keep_alive=framing.keep_alive,
        no_body=framing.no_body,
        close_delimited=framing.close_delimited,
    )
    return data, framing.chunked
