"""The handler's side of a client's request: what a connection hands each request to."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mypy_extensions import trait

from meshkit.gateway.http1 import RequestHead

if TYPE_CHECKING:
    from meshkit.gateway.connection import ClientConnection

__all__ = ["Handler", "QueuedRequest", "RequestSink"]


@trait
class RequestSink:
    """The handler's side of one request. (A trait rather than a protocol: a compiled build
    calls its methods directly, where a protocol's would be looked up by name each time.)"""

    def start(self) -> None:
        """Begin handling (may answer at once, e.g. with 404)."""
        raise NotImplementedError

    def body(self, chunk: bytes) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """The client went away: drop everything for this request."""
        raise NotImplementedError

    def client_writable(self, writable: bool) -> None:
        raise NotImplementedError


Handler = Callable[[RequestHead, "ClientConnection"], RequestSink]
"""Makes the sink of each request a connection reads (the gateway's exchange)."""


class QueuedRequest(RequestSink):
    """A pipelined request waiting for its turn: its head and the body so far (only
    ``body`` and ``end`` are ever asked of it)."""

    __slots__ = ("chunks", "ended", "head")

    def __init__(self, head: RequestHead) -> None:
        self.head = head
        self.chunks: list[bytes] = []
        self.ended = False

    def body(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def end(self) -> None:
        self.ended = True
