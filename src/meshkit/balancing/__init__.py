"""Load balancing: pure pickers over a service's live endpoints, and the balancer around them.

Algorithms: round robin, smooth weighted round robin, least request (power of two choices),
random, weighted random, ring hash, Maglev, and P2C with peak-EWMA latency. The
:class:`LoadBalancer` skips unhealthy, ejected and breaker-open endpoints, switches to panic
mode when too few are left, prefers the local zone, and ramps up endpoints that (re)join.
"""

from __future__ import annotations

from meshkit.balancing.algorithm import Algorithm
from meshkit.balancing.balancer import LoadBalancer, make_algorithm
from meshkit.balancing.endpoint import MAX_WEIGHT, Endpoint
from meshkit.balancing.hashing import Maglev, RingHash, hash64
from meshkit.balancing.least_request import LeastRequest, PeakEwma
from meshkit.balancing.options import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    DEFAULT_PANIC_THRESHOLD,
    DEFAULT_SLOW_START,
    DEFAULT_SLOW_START_AGGRESSION,
    DEFAULT_SLOW_START_MIN_WEIGHT,
    AlgorithmName,
    BalancerOptions,
    PanicModeChanged,
)
from meshkit.balancing.simple import Random, RoundRobin, WeightedRandom
from meshkit.balancing.smooth import SmoothWeightedRoundRobin

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "DEFAULT_PANIC_THRESHOLD",
    "DEFAULT_SLOW_START",
    "DEFAULT_SLOW_START_AGGRESSION",
    "DEFAULT_SLOW_START_MIN_WEIGHT",
    "MAX_WEIGHT",
    "Algorithm",
    "AlgorithmName",
    "BalancerOptions",
    "Endpoint",
    "LeastRequest",
    "LoadBalancer",
    "Maglev",
    "PanicModeChanged",
    "PeakEwma",
    "Random",
    "RingHash",
    "RoundRobin",
    "SmoothWeightedRoundRobin",
    "WeightedRandom",
    "hash64",
    "make_algorithm",
]
