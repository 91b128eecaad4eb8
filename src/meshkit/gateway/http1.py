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
from dataclasses import dataclass, field
from http import HTTPStatus

__all__ = [
    "HOP_BY_HOP",
    "HttpError",
    "RequestHead",
    "check_head",
    "frame_head",
    "request_head_bytes",
    "response_head_bytes",
    "status_line",
]

HOP_BY_HOP = frozenset(
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
_NOT_FORWARDED = HOP_BY_HOP | {b"content-length"}
# Request fields the gateway writes itself (Host, and the forwarding and trace headers it
# computes from the client's — see Gateway.forwarding), so the client's copies never pass.
_NOT_RELAYED = _NOT_FORWARDED | {
    b"host",
    b"traceparent",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
}
_DIGITS = re.compile(rb"[0-9]+")
_ABSOLUTE = re.compile(rb"https?://[^/?#\s]+", re.IGNORECASE)


class HttpError(Exception):
    """A request the gateway answers itself with ``status``; ``close`` ends the connection."""

    def __init__(self, status: int, reason: str, *, close: bool = True) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.close = close


@dataclass(slots=True)
class RequestHead:
    method: bytes
    target: bytes
    version: str
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool = True
    content_length: int | None = None
    chunked: bool = False
    expect_continue: bool = False
    host: bytes = b""
    path: bytes = b"/"
    query: bytes = b""
    extra: dict[str, object] = field(default_factory=dict)

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
    tokens = {t.strip().lower() for t in connection.split(b",")} if upgrade is not None else ()
    if upgrade is not None and b"upgrade" in tokens:
        if head.method != b"GET" or head.has_body:
            raise HttpError(400, "only a bodiless GET may ask for a protocol upgrade")
        head.extra["upgrade"] = upgrade


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
        tokens = {t.strip().lower() for value in named for t in value.split(b",")}
        kept = [(k, v) for k, v in kept if k not in tokens]
    return kept


def request_head_bytes(
    head: RequestHead,
    *,
    target: bytes,
    host: bytes,
    extra: list[tuple[bytes, bytes]],
) -> bytes:
    """The head sent upstream: end-to-end headers, ``extra``, and our own framing."""
    lines = [b"%s %s HTTP/1.1\r\nhost: %s\r\n" % (head.method, target, host)]
    lines += [b"%s: %s\r\n" % kv for kv in _end_to_end(head.headers, _NOT_RELAYED)]
    lines += [b"%s: %s\r\n" % kv for kv in extra]
    upgrade = head.extra.get("upgrade")
    if isinstance(upgrade, bytes):  # a tunnel (WebSocket): ask the upstream to switch too
        lines.append(b"connection: upgrade\r\nupgrade: %s\r\n" % upgrade)
    if head.chunked:
        lines.append(b"transfer-encoding: chunked\r\n")
    elif head.content_length is not None:
        lines.append(b"content-length: %d\r\n" % head.content_length)
    lines.append(b"\r\n")
    return b"".join(lines)


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
    block = b"".join([b"%s: %s\r\n" % kv for kv in _end_to_end(headers, _NOT_FORWARDED)])
    if upgrade is not None:  # 101 Switching Protocols: the tunnel's own hop-by-hop pair
        return b"%s%sconnection: upgrade\r\nupgrade: %s\r\n\r\n" % (line, block, upgrade)
    return frame_head(
        line,
        block,
        content_length=content_length,
        keep_alive=keep_alive,
        no_body=no_body,
        close_delimited=close_delimited,
    )


_STATUS_LINES: dict[int, bytes] = {}


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
    first_line: bytes,
    block: bytes,
    *,
    content_length: int | None,
    keep_alive: bool,
    no_body: bool = False,
    close_delimited: bool = False,
) -> bytes:
    """``first_line`` (the status line) and the end-to-end header ``block`` (lines ending
    in CRLF), with the framing the gateway chose: see :func:`response_head_bytes`."""
    if not no_body and not close_delimited:
        if content_length is None:
            framing = b"transfer-encoding: chunked\r\n"
        else:
            framing = b"content-length: %d\r\n" % content_length
    elif content_length is not None:
        framing = b"content-length: %d\r\n" % content_length
    else:
        framing = b""
    close = b"" if keep_alive else b"connection: close\r\n"
    return b"%s%s%s%s\r\n" % (first_line, block, framing, close)
