"""A request body on its way upstream: framed, buffered while no connection is attached, and
kept (up to 64 KiB) so that a retry on another endpoint can send it again."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshkit.gateway.http1 import RequestHead
    from meshkit.gateway.upstream import UpstreamConnection

__all__ = ["OutgoingBody"]

_BUFFER_LIMIT = 256 * 1024  # bytes held while no upstream connection is attached
_REPLAY_LIMIT = 64 * 1024  # bodies up to this size can be sent again on a retry
_LAST_CHUNK = b"0\r\n\r\n"


class OutgoingBody:
    """The body of one request, as the gateway sends it (re-framed if chunked)."""

    __slots__ = ("_buffer", "_buffered", "_chunked", "_replay", "_replay_size", "ended", "sent")

    def __init__(self, head: RequestHead) -> None:
        self._chunked = head.chunked
        self.ended = not head.has_body  # the client has sent all of it
        self.sent = False  # some of it has gone to an upstream
        self._buffer: list[bytes] = []
        self._buffered = 0
        # The framed body so far while small enough to send again; None once it is not.
        self._replay: list[bytes] | None = [] if head.has_body else None
        self._replay_size = 0

    @property
    def held(self) -> int:
        """Bytes held while no upstream connection is attached."""
        return self._buffered

    @property
    def replayable(self) -> bool:
        """Whether a retry could send everything that went out so far again."""
        return not self.sent or self._replay is not None

    def add(self, chunk: bytes, conn: UpstreamConnection | None) -> bool:
        """Send (or hold) one chunk of the client's body; True when the client should pause:
        the upstream's socket or the holding buffer is full."""
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self._chunked else chunk
        return self._out(framed, conn)

    def finish(self, conn: UpstreamConnection | None) -> None:
        """The client's body is complete (the last chunk goes out if it was chunked)."""
        self.ended = True
        if self._chunked:
            self._out(_LAST_CHUNK, conn)

    def take(self) -> tuple[bytes, bool]:
        """What a newly attached connection must be sent after the head: the whole body so
        far on a retry, else what was held; and whether held bytes were released (so the
        client may be read again)."""
        held = bool(self._buffer)
        if self.sent and self._replay is not None:
            data = b"".join(self._replay)  # a retry: the body so far, again
        else:
            data = b"".join(self._buffer)
            self.sent = self.sent or held
        self._buffer.clear()
        self._buffered = 0
        return data, held

    def _out(self, framed: bytes, conn: UpstreamConnection | None) -> bool:
        replay = self._replay
        if replay is not None:
            self._replay_size += len(framed)
            if self._replay_size > _REPLAY_LIMIT:
                self._replay = None  # too big to hold: the request will not be retried
            else:
                replay.append(framed)
        if conn is not None:
            self.sent = True
            conn.write(framed)
            return not conn.writable
        self._buffer.append(framed)
        self._buffered += len(framed)
        return self._buffered > _BUFFER_LIMIT
