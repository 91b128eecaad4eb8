"""Options and events of the load balancer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from meshkit import _validate
from meshkit.events import Event

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "DEFAULT_PANIC_THRESHOLD",
    "DEFAULT_SLOW_START",
    "DEFAULT_SLOW_START_AGGRESSION",
    "DEFAULT_SLOW_START_MIN_WEIGHT",
    "AlgorithmName",
    "BalancerOptions",
    "PanicModeChanged",
]

AlgorithmName = Literal[
    "round_robin",
    "weighted_round_robin",
    "least_request",
    "random",
    "weighted_random",
    "ring_hash",
    "maglev",
    "p2c_ewma",
]
ALGORITHMS: tuple[AlgorithmName, ...] = get_args(AlgorithmName)

# The defaults a service's YAML policy shares with these options (one place for each).
DEFAULT_ALGORITHM: AlgorithmName = "p2c_ewma"  # latency-aware: what Linkerd and Finagle use
DEFAULT_PANIC_THRESHOLD = 0.5  # Envoy's healthy_panic_threshold, 50 %
DEFAULT_SLOW_START = 0.0  # off: an endpoint takes its full share at once, as in Envoy
DEFAULT_SLOW_START_AGGRESSION = 1.0  # a linear ramp (Envoy's slow_start_config.aggression)
DEFAULT_SLOW_START_MIN_WEIGHT = 0.1  # Envoy's min_weight_percent, 10 %


@dataclass(frozen=True, slots=True, kw_only=True)
class BalancerOptions:
    """How a balancer chooses among a service's endpoints.

    ``algorithm``: one of :data:`ALGORITHMS`. ``panic_threshold`` (0..1): when fewer than this
    share of the endpoints are usable, route over all of them, as Envoy does, rather than
    crush the few that are left (0 disables). ``local_zone``: prefer endpoints in this zone
    while enough of them are usable. ``slow_start`` seconds: ramp the weight of an endpoint
    that joined or came back from ``slow_start_min_weight`` to full, shaped by
    ``slow_start_aggression`` (1 = linear; larger = faster at first). ``penalty``: seconds to
    avoid an endpoint that answered 429/503 without a ``Retry-After`` (``p2c_ewma``).
    ``default_rtt`` / ``ewma_decay``: the peak-EWMA's prior and memory, seconds;
    ``failure_penalty``: how many times its latency a failed request (error, timeout) counts
    for in the EWMA — it only shows the endpoint takes *at least* that long.
    ``no_endpoint_retry_after``: the ``retry_after`` of ``NoHealthyEndpoint``.
    ``ring_replicas`` / ``maglev_table_size``: the hashing structures' sizes.
    """

    algorithm: AlgorithmName = DEFAULT_ALGORITHM
    panic_threshold: float = DEFAULT_PANIC_THRESHOLD
    local_zone: str | None = None
    slow_start: float = DEFAULT_SLOW_START
    slow_start_aggression: float = DEFAULT_SLOW_START_AGGRESSION
    slow_start_min_weight: float = DEFAULT_SLOW_START_MIN_WEIGHT
    penalty: float = 1.0
    default_rtt: float = 0.03
    ewma_decay: float = 10.0
    failure_penalty: float = 5.0
    no_endpoint_retry_after: float = 1.0
    ring_replicas: int = 1024
    maglev_table_size: int = 65537

    def __post_init__(self) -> None:
        _validate.one_of("algorithm", self.algorithm, ALGORITHMS)
        _validate.between("panic_threshold", self.panic_threshold, 0.0, 1.0)
        _validate.at_least("slow_start", self.slow_start, 0.0)
        _validate.greater_than("slow_start_aggression", self.slow_start_aggression, 0.0)
        _validate.between("slow_start_min_weight", self.slow_start_min_weight, 0.0, 1.0)
        _validate.greater_than("slow_start_min_weight", self.slow_start_min_weight, 0.0)
        _validate.at_least("failure_penalty", self.failure_penalty, 1.0)
        for option in ("penalty", "default_rtt", "ewma_decay", "no_endpoint_retry_after"):
            _validate.positive(option, getattr(self, option))


@dataclass(frozen=True, slots=True, kw_only=True)
class PanicModeChanged(Event):
    """The balancer entered (``panic=True``) or left panic mode: ``usable`` of ``total``
    endpoints were usable."""

    panic: bool
    usable: int
    total: int
