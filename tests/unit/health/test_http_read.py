"""Reading HTTP/1.x responses from a stream: status, headers, bounded bodies, bad input."""

from __future__ import annotations

import asyncio

import pytest

from meshkit.health._http_read import (
    MAX_HEADER_LINES,
    ResponseError,
    ResponseHead,
    read_body,
    read_head,
)


def stream(data: bytes, *, limit: int = 1024) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=limit)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_status_line_and_headers() -> None:
    reader = stream(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nX-A:b\r\n\r\nrest")
    head = await read_head(reader)
    assert head == ResponseHead(503, "Service Unavailable", {"retry-after": "5", "x-a": "b"})


async def test_missing_reason_and_bare_newlines_are_tolerated() -> None:
    head = await read_head(stream(b"HTTP/1.0 200\nContent-Length: 0\n\n"))
    assert (head.status, head.reason) == (200, "")


async def test_interim_responses_are_skipped() -> None:
    data = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    assert (await read_head(stream(data))).status == 204


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "closed before a response"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "malformed status line"),
        (b"HTTP/2 200\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 200 OK\r\nno-colon\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n", "closed inside the response head"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 2000 + b"\r\n\r\n", "too long"),
        (
            b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (MAX_HEADER_LINES + 1) + b"\r\n",
            "header lines",
        ),
    ],
)
async def test_bad_heads_raise(data: bytes, message: str) -> None:
    with pytest.raises(ResponseError, match=message):
        await read_head(stream(data))


async def body_of(data: bytes, limit: int = 1000) -> bytes:
    reader = stream(data)
    head = await read_head(reader)
    return await read_body(reader, head, limit=limit)


async def test_body_by_content_length_stops_at_the_length() -> None:
    assert await body_of(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, extra") == b"hello"


async def test_body_until_eof_is_bounded() -> None:
    assert await body_of(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 5000, limit=100) == b"x" * 100


async def test_body_cut_short_is_returned_as_far_as_it_got() -> None:
    assert await body_of(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort") == b"short"


async def test_chunked_body_is_decoded() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nWiki\r\n6\r\npedia \r\n0\r\n\r\n"
    )
    assert await body_of(data) == b"Wikipedia "


async def test_chunked_body_is_bounded() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"a\r\n0123456789\r\n" * 5
    assert await body_of(data, limit=25) == b"0123456789" * 2 + b"01234"


@pytest.mark.parametrize("size", [b"zz", b"-5"])
async def test_bad_chunk_size_raises(size: bytes) -> None:
    with pytest.raises(ResponseError, match="chunk size"):
        await body_of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n")


async def test_bad_content_length_raises() -> None:
    with pytest.raises(ResponseError, match="Content-Length"):
        await body_of(b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n")


@pytest.mark.parametrize("status", [204, 304])
async def test_bodiless_statuses_read_nothing(status: int) -> None:
    assert await body_of(f"HTTP/1.1 {status} X\r\n\r\nignored".encode()) == b""
