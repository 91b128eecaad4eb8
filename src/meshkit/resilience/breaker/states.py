"""The breaker's states and the one table of the moves between them.

Kept apart from the compiled policy so that the enum stays a plain Python class, and next to
nothing else so that the whole state machine's shape reads in one screen.
"""

from __future__ import annotations

import enum

__all__ = ["ALLOWED_TRANSITIONS", "CircuitState"]


class CircuitState(enum.Enum):
    """Where a breaker stands: ``CLOSED`` lets calls through, ``OPEN`` refuses them,
    ``HALF_OPEN`` lets a few probes through to decide between the two."""

    CLOSED = "closed"  # calls flow; outcomes are counted
    OPEN = "open"  # calls are refused until the break duration has passed
    HALF_OPEN = "half_open"  # a few probe calls decide between CLOSED and OPEN
    FORCED_OPEN = "forced_open"  # an operator opened it; only reset() closes it
    DISABLED = "disabled"  # an operator switched it off: every call flows, nothing is counted


_C, _O, _H, _F, _D = (
    CircuitState.CLOSED,
    CircuitState.OPEN,
    CircuitState.HALF_OPEN,
    CircuitState.FORCED_OPEN,
    CircuitState.DISABLED,
)

ALLOWED_TRANSITIONS: frozenset[tuple[CircuitState, CircuitState]] = frozenset(
    {
        (_C, _O),  # tripped
        (_O, _H),  # break duration over
        (_H, _C),  # enough probes succeeded
        (_H, _O),  # too many probes failed
        # operator actions, from anywhere except the state itself
        *((s, _C) for s in (_O, _H, _F, _D)),  # reset()
        *((s, _F) for s in (_C, _O, _H, _D)),  # force_open()
        *((s, _D) for s in (_C, _O, _H, _F)),  # disable()
    }
)
"""Every (from, to) pair a breaker may take; tests check that it never leaves this table."""
