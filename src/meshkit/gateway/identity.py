"""Request ids and W3C trace context for each request through the gateway.

Ids must be unique, not secret or unpredictable: each is a random per-process prefix and a
counter (a ``uuid4`` or a 128-bit random number formatted per request costs more than the
rest of the request's identity handling together; so does ``%x`` formatting, hence the
table of hex digit pairs). Each request gets one *serial*, 8 hex digits of a counter started
at a random offset, formatted once: its ``X-Request-ID`` is 16 hex digits of prefix and the
serial, its span id 8 of another prefix and the serial, a new trace id a third prefix and
that span id — unique per process and, with the random parts, across processes. A new trace
is not sampled (flags ``00``): sampling is the business of the tracer that sees it first, not
of a proxy.
"""

from __future__ import annotations

import random
import re
from typing import Final

__all__ = ["Identities"]

_TRACEPARENT: Final = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE: Final = b"0" * 32
_ZERO_SPAN: Final = b"0" * 16
_HEX_PAIRS: Final = tuple(b"%02x" % byte for byte in range(256))


def _hex8(n: int) -> bytes:
    """The low 32 bits of ``n`` as 8 lowercase hex digits."""
    pairs = _HEX_PAIRS
    return pairs[n >> 24 & 255] + pairs[n >> 16 & 255] + pairs[n >> 8 & 255] + pairs[n & 255]


class Identities:
    """Request ids and ``traceparent`` values for one gateway process."""

    def __init__(self, rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self._request_prefix = b"%016x" % rng.getrandbits(64)
        self._span_prefix = b"%08x" % (rng.getrandbits(32) or 1)  # never an all-zero span
        self._trace_prefix = b"%016x" % rng.getrandbits(64)
        self._serial = rng.getrandbits(32)

    def serial(self) -> bytes:
        """A new request's serial: the part of its ids no other request shares."""
        self._serial = serial = self._serial + 1
        return _hex8(serial)

    def request_id(self, serial: bytes) -> bytes:
        return self._request_prefix + serial

    def traceparent(self, incoming: bytes | None, serial: bytes) -> bytes:
        """The ``traceparent`` for the next hop: the valid ``incoming`` one's trace id and
        flags with a new span id; a new trace when there is none (or it is invalid)."""
        span = self._span_prefix + serial
        if incoming:
            match = _TRACEPARENT.fullmatch(incoming.strip())
            if match is not None:
                version, trace_id, parent, flags = match.groups()
                if version != b"ff" and trace_id != _ZERO_TRACE and parent != _ZERO_SPAN:
                    return b"00-" + trace_id + b"-" + span + b"-" + flags
        return b"00-" + self._trace_prefix + span + b"-" + span + b"-00"
