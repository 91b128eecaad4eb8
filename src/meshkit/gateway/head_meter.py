"""Measuring one request head as its bytes arrive, against the gateway's limits.

llhttp (through httptools) hands over the target in pieces as they come, but keeps a header
line to itself until the line ends — so a line that never ends, checked only when whole,
would grow without bound (a 98 MiB header line once took a gateway from 50 MB to 242 MB and
pinned a core). After each read that leaves a head unfinished, :meth:`HeadMeter.after_read`
measures the line still open from the read's bytes: those after its last line end, or — if
the head began within this read, behind a body's last bytes — no more than the head's own
share. That bounds every line, the whole head and the number of fields (414, 431) while
holding at most one read past a limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from meshkit.gateway.http1 import HttpError

if TYPE_CHECKING:
    from meshkit.gateway.limits import GatewayLimits

__all__ = ["HeadMeter"]

# A partial line longer than the target seen so far by this much is past the request line
# (a method, two spaces and a version take less), so the header limits apply to it.
_REQUEST_LINE_SLACK: Final = 32


class HeadMeter:
    """The sizes of the head being read on one connection (raises ``HttpError``)."""

    def __init__(self, limits: GatewayLimits) -> None:
        self.limits = limits
        self.in_head = False  # between a message's first byte and its head's end
        self._target = 0
        self._fields = 0
        self._field_bytes = 0
        self._partial = 0  # the line still open after the last read
        self._fed_body = 0  # body bytes handed over during the current read...
        self._began_at = -1  # ...before the current head began in it (-1: in an earlier read)

    def read_starts(self) -> None:
        self._fed_body = 0
        self._began_at = -1

    def body_fed(self, size: int) -> None:
        self._fed_body += size

    def head_begins(self) -> None:
        self.in_head = True
        self._began_at = self._fed_body
        self._partial = self._target = self._fields = self._field_bytes = 0

    def head_ends(self) -> None:
        self.in_head = False

    def target(self, size: int) -> None:
        """A piece of the request target arrived."""
        self._target += size
        if self._target > self.limits.max_request_line:
            raise HttpError(414, "request line too long")

    def field(self, size: int) -> None:
        """A whole header field arrived (``size``: name, value, separator and line end)."""
        limits = self.limits
        self._fields += 1
        self._field_bytes += size
        if size > limits.max_header_line:
            raise HttpError(431, "header line too long")
        if self._field_bytes > limits.max_headers_size:
            raise HttpError(431, "headers too large")
        if self._fields > limits.max_headers:
            raise HttpError(431, "too many headers")

    def after_read(self, data: bytes) -> None:
        """A read ended inside a head: bound the line llhttp holds unfinished."""
        newline = data.rfind(b"\n")
        tail = len(data) - newline - 1  # the bytes after the last line end (all, if none)
        if self._began_at >= 0:  # the head began within this read, after a body's end
            self._partial = min(tail, len(data) - self._began_at)
        elif newline < 0:
            self._partial += len(data)
        else:
            self._partial = tail
        partial = self._partial
        if partial <= self._target + _REQUEST_LINE_SLACK:
            return  # (still) the request line: target() measures it as it comes
        if partial > self.limits.max_header_line:
            raise HttpError(431, "header line too long")
        if self._field_bytes + partial > self.limits.max_headers_size:
            raise HttpError(431, "headers too large")
