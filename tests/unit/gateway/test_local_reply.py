"""The gateway's own answers, byte for byte."""

from __future__ import annotations

import json

import pytest

from meshkit.gateway.filters import Reply
from meshkit.gateway.local_reply import error_answer, reply_answer


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


@pytest.mark.parametrize(
    ("status", "message", "retry_after", "keep_alive", "lines"),
    [
        (404, "no route", None, True, [b"HTTP/1.1 404 Not Found"]),
        (503, "circuit open", 0.2, True, [b"HTTP/1.1 503 Service Unavailable", b"retry-after: 1"]),
        (
            429,
            "rate limited",
            2.01,
            False,
            [b"HTTP/1.1 429 Too Many Requests", b"retry-after: 3", b"connection: close"],
        ),
        (504, "upstream timeout", None, False, [b"connection: close"]),
    ],
)
def test_error_answers(
    status: int, message: str, retry_after: float | None, keep_alive: bool, lines: list[bytes]
) -> None:
    data = error_answer(status, message, b"abc", keep_alive=keep_alive, retry_after=retry_after)
    head, body = _split(data)
    assert json.loads(body) == {"error": message, "request_id": "abc"}
    assert b"content-type: application/json" in head
    assert b"x-request-id: abc" in head
    assert f"content-length: {len(body)}".encode() in head
    for line in lines:
        assert line in head
    assert (b"connection: close" in head) is not keep_alive
    assert any(line.startswith(b"retry-after") for line in head) is (retry_after is not None)


def test_extra_fields_are_added() -> None:
    head, _ = _split(
        error_answer(405, "no", b"id", keep_alive=True, extra=[(b"allow", b"GET, PUT")])
    )
    assert b"allow: GET, PUT" in head


@pytest.mark.parametrize(
    ("reply", "content_type", "body"),
    [
        (Reply(401, {"error": "who?"}), b"application/json", b'{"error": "who?"}'),
        (Reply(200, "hi"), b"text/plain; charset=utf-8", b"hi"),
        (Reply(418, b"\x00\x01", {"content-type": "x/y"}), b"x/y", b"\x00\x01"),
    ],
)
def test_filter_replies(reply: Reply, content_type: bytes, body: bytes) -> None:
    head, got = _split(reply_answer(reply, b"rid", keep_alive=True))
    assert got == body
    assert b"content-type: " + content_type in head
    assert b"x-request-id: rid" in head


@pytest.mark.parametrize(
    "reply",
    [Reply(200, "x", {"x-bad": "a\r\nb"}), Reply(99, "x"), Reply(200, 42)],  # type: ignore[arg-type]
)
def test_a_reply_that_cannot_be_sent_is_refused(reply: Reply) -> None:
    with pytest.raises((ValueError, TypeError)):
        reply_answer(reply, b"rid", keep_alive=True)
