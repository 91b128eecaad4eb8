"""The answers the gateway gives itself, as bytes: its error answers and a filter's reply.

Pure functions (no connection, no clock), so every local answer is testable as a table of
inputs and bytes. An error answer is a small JSON body — ``{"error": ..., "request_id": ...}``
— with the request id header, and ``Retry-After`` (whole seconds, at least 1) when the
refusal knows how long to wait; nothing else, certainly no traceback, ever reaches a client.
"""

from __future__ import annotations

import json
import math
from typing import Final

from meshkit.gateway.filters import Reply
from meshkit.gateway.http1 import response_head_bytes

__all__ = ["error_answer", "reply_answer"]

_JSON: Final = (b"content-type", b"application/json")


def error_answer(
    status: int,
    message: str,
    request_id: bytes,
    *,
    keep_alive: bool,
    retry_after: float | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    """A whole error response: head and JSON body."""
    body = json.dumps({"error": message, "request_id": request_id.decode("latin-1")}).encode()
    headers = [_JSON, (b"x-request-id", request_id)]
    if retry_after is not None:
        headers.append((b"retry-after", b"%d" % max(1, math.ceil(retry_after))))
    if extra:
        headers += extra
    head = response_head_bytes(status, headers, content_length=len(body), keep_alive=keep_alive)
    return head + body


def reply_answer(reply: Reply, request_id: bytes, *, keep_alive: bool) -> bytes:
    """A request filter's :class:`~meshkit.gateway.filters.Reply` as a whole response.
    Raises ``ValueError``, ``UnicodeError`` or ``TypeError`` for a reply that cannot be sent
    (a forbidden character in a field, a body of the wrong type)."""
    if not isinstance(reply.status, int) or not 200 <= reply.status <= 599:
        raise ValueError(f"a reply's status must be an integer from 200 to 599: {reply.status!r}")
    body, headers = reply.encoded()
    headers.append((b"x-request-id", request_id))
    head = response_head_bytes(
        reply.status, headers, content_length=len(body), keep_alive=keep_alive
    )
    return head + body
