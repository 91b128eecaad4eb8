"""What every balancing algorithm looks like to the balancer.

An algorithm is a pure picker over an immutable snapshot: ``rebuild(endpoints, weights)`` is
called (O(n) or O(n log n)) whenever the set of usable endpoints or their effective weights
change; ``pick(key)`` is the per-request hot path and must cost O(1) or O(log n). ``key``
matters only to the hashing algorithms (bytes of a client IP, header or cookie); the others
ignore it. Weights are effective weights (after slow start), positive floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from meshkit.balancing.endpoint import Endpoint

__all__ = ["Algorithm"]


class Algorithm(Protocol):
    name: str

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None: ...

    def pick(self, key: bytes | None = None) -> Endpoint: ...
