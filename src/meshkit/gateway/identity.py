"""Request ids and W3C trace context for each request through the gateway.

Ids must be unique, not secret or unpredictable: each is a random per-process prefix and a
counter (a ``uuid4`` or a 128-bit random number formatted per request costs more than the
rest of the request's identity handling together). ``X-Request-ID`` is 16 hex digits of
prefix and 8 of counter. A new span id is the counter, started at a random 63-bit offset; a
new trace id is another random prefix and that same counter — unique per process and, with
the random parts, across processes. A new trace is not sampled (flags ``00``): sampling is
the business of the tracer that sees it first, not of a proxy.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import Final

__all__ = ["Identities"]

_TRACEPARENT: Final = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE: Final = b"0" * 32
_ZERO_SPAN: Final = b"0" * 16


class Identities:
    """Request ids and ``traceparent`` values for one gateway process."""

    def __init__(self, rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self._request_prefix = b"%016x" % rng.getrandbits(64)
        self._trace_prefix = b"%016x" % rng.getrandbits(64)
        self._requests = itertools.count(1)
        self._spans = itertools.count(rng.getrandbits(63) or 1)

    def request_id(self) -> bytes:
        return self._request_prefix + b"%08x" % next(self._requests)

    def traceparent(self, incoming: bytes | None) -> bytes:
        """The ``traceparent`` for the next hop: the valid ``incoming`` one's trace id and
        flags with a new span id; a new trace when there is none (or it is invalid)."""
        span = b"%016x" % next(self._spans)
        if incoming:
            match = _TRACEPARENT.fullmatch(incoming.strip())
            if match is not None:
                version, trace_id, parent, flags = match.groups()
                if version != b"ff" and trace_id != _ZERO_TRACE and parent != _ZERO_SPAN:
                    return b"00-" + trace_id + b"-" + span + b"-" + flags
        return b"00-" + self._trace_prefix + span + b"-" + span + b"-00"
