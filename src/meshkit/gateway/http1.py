"""HTTP/1.1 message heads: strict validation, and re-serialisation for the other side.

llhttp (through httptools) already refuses most smuggling vectors: Content-Length with
Transfer-Encoding, duplicate Content-Length, signs/``0x``/underscores/overflow in lengths and
chunk sizes, obs-fold, bare LF, NUL or CR in values, whitespace before a colon, bad methods.
:func:`check_head` closes the gaps left, so that the gateway never forwards a request it would
frame differently from the upstream:

* ``Content-Length`` must be bare digits (llhttp tolerates trailing whitespace);
* ``Transfer-Encoding`` must be exactly ``chunked`` (llhttp accepts ``gzip, chunked``: a
  coding the gateway would pass on but not understand);
* HTTP/1.1 requests need exactly one ``Host``;
* the target must be origin-form (``/...``), absolute-form (``http(s)://...``), or ``*`` for
  OPTIONS; ``CONNECT`` is not proxied.

Re-serialisation (:func:`request_head_bytes`, :func:`response_head_bytes`) drops the hop-by-hop
headers (RFC 9110 §7.6.1, plus any named in ``Connection``) and writes the framing the gateway
chose itself, so what is forwarded is exactly what was parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Final

__all__ = [
    "CONNECTION_OPTIONS",
    "HOP_BY_HOP",
    "HttpError",
    "RequestHead",
    "check_head",
    "connection_tokens",
    "frame_head",
    "render_fields",
    "request_head_bytes",
    "response_head_bytes",
    "status_line",
]

HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
_NOT_FORWARDED: Final = HOP_BY_HOP | {b"content-length"}
# Request fields the gateway writes itself (Host, and the forwarding and trace headers it
# computes from the client's — see Gateway.forwarding), so the client's copies never pass.
_NOT_RELAYED: Final = _NOT_FORWARDED | {
    b"expect",  # the gateway answers 100-continue itself, once the request is admitted
    b"host",
    b"traceparent",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
}
CONNECTION_OPTIONS: Final = frozenset({b"close", b"keep-alive", b"upgrade", b""})
"""``Connection`` options that name no other field (``b""``: what a trailing comma leaves)."""
_NONE: Final[frozenset[bytes]] = frozenset()
_DIGITS: Final = re.compile(rb"[0-9]+")
_ABSOLUTE: Final = re.compile(rb"https?://[^/?#\s]+", re.IGNORECASE)


class HttpError(Exception):
    """A request the gateway answers itself with ``status``; ``close`` ends the connection."""

    def __init__(self, status: int, reason: str, *, close: bool = True) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.close = close


class RequestHead:
    """A client's request head as parsed, plus what the gateway works out from it once.

    A plain class rather than a dataclass: on the compiled data path a dataclass's generated
    ``__init__`` would run as interpreted Python, once per request."""

    __slots__ = (
        "chunked",
        "content_length",
        "expect_continue",
        "headers",
        "host",
        "keep_alive",
        "method",
        "named",
        "path",
        "query",
        "target",
        "upgrade",
        "version",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool = True,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # names lowercase
        self.keep_alive = keep_alive
        # framing and target, filled by check_head
        self.content_length: int | None = None
        self.chunked = False
        self.expect_continue = False
        self.host = b""
        self.path = b"/"
        self.query = b""
        self.upgrade: bytes | None = None  # the protocol asked for (a bodiless GET)
        self.named: frozenset[bytes] = _NONE  # further hop-by-hop fields Connection names
        # worked out once per request, kept for retries

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (header names are stored lowercase)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


def check_head(head: RequestHead) -> None:
    """Validate what llhttp lets through; fill the framing fields. Raises ``HttpError``."""
    lengths: list[bytes] = []
    encodings: list[bytes] = []
    hosts: list[bytes] = []
    upgrade: bytes | None = None
    connection = b""
    for lower, value in head.headers:
        if lower == b"content-length":
            lengths.append(value)
        elif lower == b"transfer-encoding":
            encodings.append(value)
        elif lower == b"host":
            hosts.append(value)
        elif lower == b"expect":
            if value.lower() != b"100-continue":
                raise HttpError(417, "only Expect: 100-continue is supported")
            head.expect_continue = True
        elif lower == b"upgrade":
            upgrade = value
        elif lower == b"connection":
            connection += b"," + value
    if lengths:
        if len(lengths) > 1 or not _DIGITS.fullmatch(lengths[0]):
            raise HttpError(400, "invalid Content-Length")
        head.content_length = int(lengths[0])
    if encodings:
        if lengths:
            raise HttpError(400, "both Content-Length and Transfer-Encoding")
        if len(encodings) > 1 or encodings[0].lower() != b"chunked":
            raise HttpError(400, "Transfer-Encoding must be exactly chunked")
        head.chunked = True
    if head.version == "1.1":
        if len(hosts) != 1:
            raise HttpError(400, "exactly one Host header is required")
    elif len(hosts) > 1:
        raise HttpError(400, "more than one Host header")
    head.host = hosts[0] if hosts else b""
    _check_target(head)
    tokens = connection_tokens(connection) if connection else _NONE
    if tokens:
        head.named = tokens - CONNECTION_OPTIONS
    if upgrade is not None and b"upgrade" in tokens:
        if head.method != b"GET" or head.has_body:
            raise HttpError(400, "only a bodiless GET may ask for a protocol upgrade")
        head.upgrade = upgrade


def connection_tokens(value: bytes) -> frozenset[bytes]:
    """The options of a ``Connection`` value (or several joined by commas), lowercase; all but
    ``close``, ``keep-alive`` and ``upgrade`` name further hop-by-hop fields."""
    return frozenset(t.strip().lower() for t in value.split(b","))


def _check_target(head: RequestHead) -> None:
    target = head.target
    if head.method == b"CONNECT":
        raise HttpError(405, "CONNECT is not supported")
    if target == b"*":
        if head.method != b"OPTIONS":
            raise HttpError(400, "asterisk-form target is only for OPTIONS")
        head.path = b"*"
        return
    if not target.startswith(b"/"):
        match = _ABSOLUTE.match(target)
        if match is None:
            raise HttpError(400, "invalid request target")
        authority = match.group(0).split(b"://", 1)[1]
        if head.host and head.host.lower() != authority.lower():
            raise HttpError(400, "Host differs from the absolute target's authority")
        head.host = authority
        target = target[match.end() :] or b"/"
        if not target.startswith((b"/", b"?")):
            raise HttpError(400, "invalid request target")
        if target.startswith(b"?"):
            target = b"/" + target
    path, _, query = target.partition(b"?")
    head.path, head.query = path, query
    head.target = target


def _end_to_end(
    headers: list[tuple[bytes, bytes]], drop: frozenset[bytes] = HOP_BY_HOP
) -> list[tuple[bytes, bytes]]:
    """``headers`` (names lowercase) without hop-by-hop ones, those named by ``Connection``,
    ``Content-Length`` (the writer frames the body itself), and any in ``drop``."""
    kept = [(k, v) for k, v in headers if k not in drop]
    named = [v for k, v in headers if k == b"connection"]
    if named:
        tokens = connection_tokens(b",".join(named))
        kept = [(k, v) for k, v in kept if k not in tokens]
    return kept


def render_fields(fields: Iterable[tuple[bytes, bytes]]) -> bytes:
    """``name: value`` lines, each ending in CRLF."""
    return b"".join([name + b": " + value + b"\r\n" for name, value in fields])


def request_head_bytes(
    head: RequestHead,
    *,
    target: bytes,
    host: bytes,
    extra: list[bytes],
) -> bytes:
    """The head sent upstream: end-to-end headers, the ``extra`` lines (as pieces of bytes
    that join into lines ending in CRLF), and our own framing. (Built as one list of pieces
    joined once: formatting a line per field costs more.)"""
    parts = [head.method, b" ", target, b" HTTP/1.1\r\nhost: ", host, b"\r\n"]
    named = head.named
    for name, value in head.headers:
        if name not in _NOT_RELAYED and not (named and name in named):
            parts.append(name)
            parts.append(b": ")
            parts.append(value)
            parts.append(b"\r\n")
    parts += extra
    upgrade = head.upgrade
    if upgrade is not None:  # a tunnel (WebSocket): ask the upstream to switch too
        parts.append(b"connection: upgrade\r\nupgrade: ")
        parts.append(upgrade)
        parts.append(b"\r\n")
    if head.chunked:
        parts.append(b"transfer-encoding: chunked\r\n")
    elif head.content_length is not None:
        parts.append(length_line(head.content_length))
    parts.append(b"\r\n")
    return b"".join(parts)


def response_head_bytes(
    status: int,
    headers: list[tuple[bytes, bytes]],
    *,
    reason: bytes = b"",
    content_length: int | None,
    keep_alive: bool,
    no_body: bool = False,
    close_delimited: bool = False,
    upgrade: bytes | None = None,
) -> bytes:
    """A response head to the client; ``content_length=None`` means chunked (unless the
    response has no body by definition: HEAD, 1xx, 204, 304, or is ``close_delimited`` for an
    HTTP/1.0 client)."""
    line = b"HTTP/1.1 %d %s\r\n" % (status, reason) if reason else status_line(status)
    parts = [line]
    for name, value in _end_to_end(headers, _NOT_FORWARDED):
        parts += (name, b": ", value, b"\r\n")
    if upgrade is not None:  # 101 Switching Protocols: the tunnel's own hop-by-hop pair
        parts += (b"connection: upgrade\r\nupgrade: ", upgrade, b"\r\n\r\n")
        return b"".join(parts)
    return frame_head(
        parts,
        content_length=content_length,
        keep_alive=keep_alive,
        no_body=no_body,
        close_delimited=close_delimited,
    )


_STATUS_LINES: Final[dict[int, bytes]] = {}
_LENGTH_LINES: Final[dict[int, bytes]] = {}
_MAX_LENGTH_LINES: Final = 4096


def length_line(length: int) -> bytes:
    """``content-length: <length>`` and CRLF, made once for the lengths seen most (formatting
    an integer costs more than the rest of the framing)."""
    line = _LENGTH_LINES.get(length)
    if line is None:
        line = b"content-length: %d\r\n" % length
        if len(_LENGTH_LINES) < _MAX_LENGTH_LINES:
            _LENGTH_LINES[length] = line
    return line


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>`` and CRLF, made once per status."""
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            text = HTTPStatus(status).phrase.encode()
        except ValueError:  # a code without a registered reason phrase
            text = b"Status"
        line = _STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (status, text)
    return line


def frame_head(
    parts: list[bytes],
    *,
    content_length: int | None,
    keep_alive: bool,
    no_body: bool = False,
    close_delimited: bool = False,
) -> bytes:
    """The head from ``parts`` (the status line and end-to-end header lines, as pieces to
    join) and the framing the gateway chose: see :func:`response_head_bytes`."""
    if not no_body and not close_delimited:
        if content_length is None:
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            parts.append(length_line(content_length))
    elif content_length is not None:
        parts.append(length_line(content_length))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)
