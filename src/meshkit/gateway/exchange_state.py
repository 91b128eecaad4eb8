"""The life of one request in the gateway: its states and every move between them.

An :class:`~meshkit.gateway.exchange.Exchange` is always in exactly one state, and changes
state only along a row of :data:`TRANSITIONS` (it raises :class:`IllegalTransition`
otherwise; the tests walk the table and drive real requests through every row).

==================  =====================================================================
state               the request ...
==================  =====================================================================
RECEIVED            has its head parsed; nothing is decided yet
QUEUED              waits for a slot in its route's (or then its service's) bulkhead
FILTERING           waits for a request filter's async work (the chain is paused)
BUFFERING           is reading its small body whole before taking an upstream connection
CONNECTING          is leasing an endpoint, and taking or opening a connection to it
BACKING_OFF         waits before another attempt (the retry policy's backoff)
WAITING             has gone upstream (head sent, body going) and waits for the answer
RESPONSE_FILTERING  has the upstream's head, held while a response filter works
RESPONDING          is streaming the response to the client
TUNNEL              is a tunnel (after ``101 Switching Protocols``): raw bytes both ways
DONE                is over: answered, relayed, cut or abandoned; counted once
==================  =====================================================================

The states are small integers (``Final``, so a compiled build compares constants); the
:class:`ExchangeState` enum names them for people and tests.
"""

from __future__ import annotations

import enum
from typing import Final

from mypy_extensions import mypyc_attr

__all__ = ["TRANSITIONS", "ExchangeState", "IllegalTransition", "allowed_masks"]

RECEIVED: Final = 0
QUEUED: Final = 1
FILTERING: Final = 2
BUFFERING: Final = 3
CONNECTING: Final = 4
BACKING_OFF: Final = 5
WAITING: Final = 6
RESPONSE_FILTERING: Final = 7
RESPONDING: Final = 8
TUNNEL: Final = 9
DONE: Final = 10


class ExchangeState(enum.IntEnum):
    RECEIVED = RECEIVED
    QUEUED = QUEUED
    FILTERING = FILTERING
    BUFFERING = BUFFERING
    CONNECTING = CONNECTING
    BACKING_OFF = BACKING_OFF
    WAITING = WAITING
    RESPONSE_FILTERING = RESPONSE_FILTERING
    RESPONDING = RESPONDING
    TUNNEL = TUNNEL
    DONE = DONE


_S = ExchangeState

TRANSITIONS: Final[dict[ExchangeState, frozenset[ExchangeState]]] = {
    # routed: queued at the bulkhead, paused by a filter, or on towards the upstream; or
    # answered at once (404, 405, 503, 429, a filter's reply)
    _S.RECEIVED: frozenset({_S.QUEUED, _S.FILTERING, _S.BUFFERING, _S.CONNECTING, _S.DONE}),
    # admitted by the route's bulkhead, and maybe queued again at the service's
    _S.QUEUED: frozenset({_S.QUEUED, _S.FILTERING, _S.BUFFERING, _S.CONNECTING, _S.DONE}),
    # a paused filter resumed (on to the service's bulkhead, or the upstream) or answered
    _S.FILTERING: frozenset({_S.FILTERING, _S.QUEUED, _S.BUFFERING, _S.CONNECTING, _S.DONE}),
    _S.BUFFERING: frozenset({_S.CONNECTING, _S.DONE}),
    # attached to a connection; or, its connection failing, another attempt at once (a new
    # lease), later (backoff), or none (answered)
    _S.CONNECTING: frozenset({_S.WAITING, _S.CONNECTING, _S.BACKING_OFF, _S.DONE}),
    _S.BACKING_OFF: frozenset({_S.CONNECTING, _S.DONE}),
    # the answer's head: relayed, filtered, a tunnel, or retried (a 503, a reset)
    _S.WAITING: frozenset(
        {_S.RESPONDING, _S.RESPONSE_FILTERING, _S.TUNNEL, _S.CONNECTING, _S.BACKING_OFF, _S.DONE}
    ),
    _S.RESPONSE_FILTERING: frozenset({_S.RESPONSE_FILTERING, _S.RESPONDING, _S.DONE}),
    _S.RESPONDING: frozenset({_S.DONE}),
    _S.TUNNEL: frozenset({_S.DONE}),
    _S.DONE: frozenset(),
}
"""Every state an exchange may go to from each state."""


def allowed_masks() -> tuple[int, ...]:
    """:data:`TRANSITIONS` as one bit mask per state (bit ``n``: may go to state ``n``), the
    form the exchange checks on every move."""
    return tuple(sum(1 << int(target) for target in TRANSITIONS[state]) for state in ExchangeState)


ALLOWED: Final = allowed_masks()


@mypyc_attr(native_class=False)  # (an exception: a Python class even in a compiled build)
class IllegalTransition(RuntimeError):
    """An exchange tried a move :data:`TRANSITIONS` does not have: a bug in the gateway."""

    def __init__(self, source: int, target: int) -> None:
        super().__init__(
            f"exchange cannot go from {ExchangeState(source).name} to {ExchangeState(target).name}"
        )
        self.source = source
        self.target = target
