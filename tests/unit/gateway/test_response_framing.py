"""How responses are framed for the client, as a table (h11's test_io style)."""

from __future__ import annotations

import pytest

from meshkit.gateway.response_framing import frame_response

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
