"""How responses are framed for the client, as a table (h11's test_io style)."""

from __future__ import annotations

import pytest

from meshkit.gateway.http1 import RequestHead
from meshkit.gateway.response_framing import client_head, frame_response
from meshkit.gateway.response_head import ResponseHead

# method, HTTP/1.0?, status, upstream chunked?, upstream length, keep-alive wanted
#   -> content_length, chunked, keep_alive, no_body, close_delimited
CASES = [
    # a known length is relayed as it is
    ((b"GET", False, 200, False, 12, True), (12, False, True, False, False)),
    # an unknown length is re-framed in chunks for HTTP/1.1...
    ((b"GET", False, 200, True, None, True), (None, True, True, False, False)),
    ((b"GET", False, 200, False, None, True), (None, True, True, False, False)),
    # ...and delimited by closing for HTTP/1.0, which cannot read chunks
    ((b"GET", True, 200, True, None, True), (None, False, False, False, True)),
    ((b"GET", True, 200, False, 5, True), (5, False, True, False, False)),
    # statuses that forbid a body carry no framing, whatever the upstream said
    ((b"GET", False, 204, False, 10, True), (None, False, True, True, False)),
    ((b"GET", False, 304, True, None, True), (None, False, True, True, False)),
    ((b"GET", False, 103, False, None, True), (None, False, True, True, False)),
    # a HEAD answer keeps its length but has no body
    ((b"HEAD", False, 200, False, 99, True), (99, False, True, True, False)),
    ((b"HEAD", False, 200, True, None, True), (None, False, True, True, False)),
    # keep-alive is only ever taken away
    ((b"GET", False, 200, False, 3, False), (3, False, False, False, False)),
    ((b"POST", False, 500, True, None, False), (None, True, False, False, False)),
]


@pytest.mark.parametrize(("given", "expected"), CASES)
def test_framing(
    given: tuple[bytes, bool, int, bool, int | None, bool],
    expected: tuple[int | None, bool, bool, bool, bool],
) -> None:
    method, http10, status, chunked, length, keep_alive = given
    framing = frame_response(
        method=method,
        http10=http10,
        status=status,
        upstream_chunked=chunked,
        upstream_length=length,
        keep_alive=keep_alive,
    )
    got = (
        framing.content_length,
        framing.chunked,
        framing.keep_alive,
        framing.no_body,
        framing.close_delimited,
    )
    assert got == expected, repr(framing)


def _upstream_head(status: int, fields: list[tuple[bytes, bytes]]) -> ResponseHead:
    """A head as the upstream connection builds it: end-to-end lines kept as pieces, the
    fields the gateway acts on (framing, Connection) apart."""
    kept: list[bytes] = []
    watched = []
    for name, value in fields:
        lower = name.lower()
        if lower in (b"content-length", b"transfer-encoding", b"connection"):
            watched.append((lower, value))
        else:
            kept += (name, b": ", value, b"\r\n")
    return ResponseHead(status, kept, watched, True)


@pytest.mark.parametrize(
    ("fields", "edited", "http10", "lines", "chunked"),
    [
        # relayed from the upstream's own bytes, with the request id and our framing
        ([(b"Server", b"x"), (b"Content-Length", b"5")], None, False,
         [b"HTTP/1.1 200 OK", b"Server: x", b"x-request-id: rid", b"content-length: 5"], False),
        ([(b"Transfer-Encoding", b"chunked")], None, False,
         [b"transfer-encoding: chunked"], True),
        # an HTTP/1.0 client: the unknown length is delimited by closing
        ([(b"Transfer-Encoding", b"chunked")], None, True, [b"connection: close"], False),
        # edited by a filter: exactly the fields given, framed by the gateway
        ([(b"Server", b"x"), (b"Content-Length", b"2")], [(b"x-a", b"1")], False,
         [b"x-a: 1", b"content-length: 2"], False),
        # Connection naming another field: that field is dropped (the head is rebuilt)
        ([(b"Connection", b"x-hop"), (b"x-hop", b"1"), (b"x-end", b"2"),
          (b"Content-Length", b"0")], None, False, [b"x-end: 2"], False),
    ],
)  # fmt: skip
def test_client_head(
    fields: list[tuple[bytes, bytes]],
    edited: list[tuple[bytes, bytes]] | None,
    http10: bool,
    lines: list[bytes],
    chunked: bool,
) -> None:
    request = RequestHead(method=b"GET", target=b"/", version="1.0" if http10 else "1.1",
                          headers=[(b"host", b"h")])  # fmt: skip
    data, reframed = client_head(
        request, _upstream_head(200, fields), edited, keep_alive=True, request_id=b"rid"
    )
    head = data.split(b"\r\n")
    assert data.endswith(b"\r\n\r\n")
    for line in lines:
        assert line in head
    assert b"x-hop: 1" not in head
    assert reframed is chunked
