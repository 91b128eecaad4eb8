"""What a request head may say about its framing, as a table: accepted heads and the fields
they fill, refused heads and the status and reason they get (no sockets)."""

from __future__ import annotations

import pytest

from meshkit.gateway.http1 import HttpError, RequestHead, check_head

Fields = list[tuple[bytes, bytes]]
HOST: Fields = [(b"host", b"h")]


def _head(fields: Fields, *, method: bytes = b"GET", target: bytes = b"/a?b=1",
          version: str = "1.1") -> RequestHead:  # fmt: skip
    return RequestHead(method=method, target=target, version=version, headers=fields)


@pytest.mark.parametrize(
    ("fields", "method", "target", "version", "expected"),
    [
        # (content_length, chunked, expect_continue, upgrade, host, path, query)
        (HOST, b"GET", b"/a?b=1", "1.1", (None, False, False, None, b"h", b"/a", b"b=1")),
        ([*HOST, (b"content-length", b"12")], b"POST", b"/", "1.1",
         (12, False, False, None, b"h", b"/", b"")),
        ([*HOST, (b"transfer-encoding", b"Chunked")], b"POST", b"/", "1.1",
         (None, True, False, None, b"h", b"/", b"")),
        ([*HOST, (b"content-length", b"1"), (b"expect", b"100-Continue")], b"PUT", b"/", "1.1",
         (1, False, True, None, b"h", b"/", b"")),
        ([*HOST, (b"connection", b"Upgrade"), (b"upgrade", b"websocket")], b"GET", b"/ws", "1.1",
         (None, False, False, b"websocket", b"h", b"/ws", b"")),
        # an upgrade not named by Connection is no upgrade
        ([*HOST, (b"upgrade", b"websocket")], b"GET", b"/", "1.1",
         (None, False, False, None, b"h", b"/", b"")),
        # HTTP/1.0 may leave Host out
        ([], b"GET", b"/", "1.0", (None, False, False, None, b"", b"/", b"")),
        # the absolute form: its authority is the host
        ([(b"host", b"Example.com")], b"GET", b"http://example.com/x?y", "1.1",
         (None, False, False, None, b"example.com", b"/x", b"y")),
        (HOST, b"OPTIONS", b"*", "1.1", (None, False, False, None, b"h", b"*", b"")),
    ],
)  # fmt: skip
def test_accepted(
    fields: Fields,
    method: bytes,
    target: bytes,
    version: str,
    expected: tuple[int | None, bool, bool, bytes | None, bytes, bytes, bytes],
) -> None:
    head = _head(fields, method=method, target=target, version=version)
    check_head(head)
    got = (head.content_length, head.chunked, head.expect_continue, head.upgrade, head.host,
           head.path, head.query)  # fmt: skip
    assert got == expected


@pytest.mark.parametrize(
    ("fields", "method", "target", "status", "reason"),
    [
        ([*HOST, (b"content-length", b"1"), (b"content-length", b"1")], b"POST", b"/", 400,
         "invalid Content-Length"),
        ([*HOST, (b"content-length", b"+1")], b"POST", b"/", 400, "invalid Content-Length"),
        ([*HOST, (b"content-length", b"1"), (b"transfer-encoding", b"chunked")], b"POST", b"/",
         400, "both Content-Length and Transfer-Encoding"),
        ([*HOST, (b"transfer-encoding", b"gzip, chunked")], b"POST", b"/", 400,
         "Transfer-Encoding must be exactly chunked"),
        ([], b"GET", b"/", 400, "exactly one Host header is required"),
        ([*HOST, *HOST], b"GET", b"/", 400, "exactly one Host header is required"),
        ([*HOST, (b"expect", b"something")], b"GET", b"/", 417,
         "only Expect: 100-continue is supported"),
        ([*HOST, (b"connection", b"upgrade"), (b"upgrade", b"h2c"), (b"content-length", b"3")],
         b"POST", b"/", 400, "only a bodiless GET may ask for a protocol upgrade"),
        (HOST, b"CONNECT", b"h:443", 405, "CONNECT is not supported"),
        (HOST, b"GET", b"*", 400, "asterisk-form target is only for OPTIONS"),
        ([(b"host", b"a")], b"GET", b"http://b/x", 400,
         "Host differs from the absolute target's authority"),
        (HOST, b"GET", b"x", 400, "invalid request target"),
    ],
)  # fmt: skip
def test_refused(fields: Fields, method: bytes, target: bytes, status: int, reason: str) -> None:
    with pytest.raises(HttpError) as refused:
        check_head(_head(fields, method=method, target=target))
    assert (refused.value.status, refused.value.reason) == (status, reason)
