"""Reading just enough of an HTTP/1.1 response for a health check, with hard bounds.

The check needs the status code and, when it matches on the body, the first bytes of the body.
Everything read is bounded: each head line by the stream's ``limit``, the number of header lines
by ``MAX_HEADER_LINES``, the body by the caller's ``limit``. A response that breaks the grammar
or a bound raises :class:`ResponseError`; a body cut short by the peer is returned as far as it
got (the match then decides).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

__all__ = ["MAX_HEADER_LINES", "ResponseError", "ResponseHead", "read_body", "read_head"]

# h11 and most servers cap a head at ~100 header lines; a health endpoint needs a handful.
MAX_HEADER_LINES = 100

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9]{2})(?: ([^\r\n]*))?\r?\n")


class ResponseError(Exception):
    """The peer's answer is not a usable HTTP/1.x response."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Status line and headers (names lower-cased; a repeated header keeps its last value)."""

    status: int
    reason: str
    headers: dict[str, str]


async def _readline(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except ValueError:  # StreamReader's limit: a line longer than the stream allows
        raise ResponseError("response head line too long") from None


async def read_head(reader: asyncio.StreamReader) -> ResponseHead:
    """Read the status line and headers of the final response (skipping 1xx interim ones)."""
    while True:
        line = await _readline(reader)
        if not line:
            raise ResponseError("connection closed before a response")
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise ResponseError(f"malformed status line {line[:80]!r}")
        status = int(match.group(1))
        reason = (match.group(2) or b"").decode("latin-1")
        headers = await _read_headers(reader)
        if status >= 200 or status == 101:  # 101 ends the HTTP exchange: treat it as final
            return ResponseHead(status, reason, headers)


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = await _readline(reader)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise ResponseError("connection closed inside the response head")
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            raise ResponseError(f"malformed header line {line[:80]!r}")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    raise ResponseError(f"more than {MAX_HEADER_LINES} header lines")


async def read_body(reader: asyncio.StreamReader, head: ResponseHead, *, limit: int) -> bytes:
    """Read at most ``limit`` bytes of the body that follows ``head`` (of a GET)."""
    if head.status in (204, 304) or head.status < 200:
        return b""
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, limit)
    length = head.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise ResponseError(f"malformed Content-Length {length!r}") from None
        limit = min(limit, max(declared, 0))
    return await _read_upto(reader, limit)


async def _read_upto(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while len(body) < limit:
        data = await reader.read(limit - len(body))
        if not data:
            break
        body += data
    return bytes(body)


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while len(body) < limit:
        size_line = await _readline(reader)
        if not size_line:
            break
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            size = -1
        if size < 0:
            raise ResponseError(f"malformed chunk size {size_line[:40]!r}")
        if size == 0:
            break
        wanted = min(size, limit - len(body))
        try:
            body += await reader.readexactly(wanted)
        except asyncio.IncompleteReadError as exc:
            body += exc.partial
            break
        if wanted < size:
            break  # the bound cut this chunk; the rest does not matter
        await _readline(reader)  # the CRLF that ends the chunk
    return bytes(body)
