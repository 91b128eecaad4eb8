"""A service's policy as YAML and the registry hold it, and the library options built from it.

Config and code are two ways to build one thing: each key here is named after, and maps to,
the constructor argument of a policy (``breaker.consecutive_failures`` is
:class:`~meshkit.resilience.CircuitBreakerOptions`'s ``consecutive_failures``), and each
model's ``options()`` builds that policy's options object. The models only parse (types,
units such as ``250ms``); the ranges are the library's own checks (:mod:`meshkit._validate`),
run once when a model is validated, so a value is refused by exactly one rule whether it came
from a file, the admin API or code. Such a refusal is an ``OptionRefused`` naming the option,
which the loaders turn into a key path (``services[0].policy.breaker.break_duration``).

Defaults come from the library (its ``DEFAULT_*`` constants and options), except where a
service mesh wants another (the breaker trips on a streak, retries are off unless asked and
back off briefly): those are the ``DEFAULT_*`` options below, one place each.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, model_validator

from meshkit._units import Seconds
from meshkit.balancing import (
    DEFAULT_ALGORITHM,
    DEFAULT_PANIC_THRESHOLD,
    DEFAULT_SLOW_START,
    DEFAULT_SLOW_START_AGGRESSION,
    DEFAULT_SLOW_START_MIN_WEIGHT,
    AlgorithmName,
    BalancerOptions,
)
from meshkit.health import DEFAULT_OUTLIER_OPTIONS, OutlierOptions
from meshkit.registry.policy_base import OptionRefused, PolicyModel, field_default, under_key
from meshkit.registry.policy_retry import RetryPolicy
from meshkit.resilience import BulkheadOptions, CircuitBreakerOptions, TimeoutOptions

__all__ = [
    "DEFAULT_BREAKER_OPTIONS",
    "BreakerPolicy",
    "BulkheadPolicy",
    "OutlierPolicy",
    "ServicePolicy",
]


DEFAULT_BREAKER_OPTIONS = CircuitBreakerOptions(consecutive_failures=5, break_duration=10.0)
"""A service's per-endpoint breaker unless its policy says otherwise. An endpoint that fails
5 times in a row is out for 10 s (Linkerd's consecutive-failures accrual): a mesh has many
endpoints to pick instead, so a short, streak-triggered break costs little. The library's
rate trip (half of the last 100 calls failing, once 20 are in) still applies beside it."""
_B = DEFAULT_BREAKER_OPTIONS


class BreakerPolicy(PolicyModel):
    """A circuit breaker per endpoint (`true`: these defaults; `false`: none). Any one trip
    opens it: `consecutive_failures` in a row, or, once the window holds `minimum_calls`,
    `failure_rate_threshold` of failed or `slow_call_rate_threshold` of slow calls."""

    window: Literal["count", "time"] = _B.window
    """`count`: the window is the last `window_size` calls; `time`: the calls of the last
    `window_size` seconds."""
    window_size: int | Seconds = _B.window_size
    """Calls (a whole number, for `window: count`) or a duration (for `window: time`)."""
    time_buckets: int = _B.time_buckets
    """Slices of a time window (its resolution)."""
    minimum_calls: int = _B.minimum_calls
    """Calls the window must hold before its rates may open the breaker."""
    failure_rate_threshold: float | None = _B.failure_rate_threshold
    """Share of failed calls (0-1) that opens the breaker; null: not used."""
    slow_call_duration: Seconds | None = _B.slow_call_duration
    """A call taking longer is slow; absent: no call is."""
    slow_call_rate_threshold: float = _B.slow_call_rate_threshold
    """Share of slow calls (0-1) that opens the breaker."""
    consecutive_failures: int | None = _B.consecutive_failures
    """Failures in a row (5xx, connection errors, timeouts) that open the breaker; null: not
    used."""
    break_duration: Seconds = _B.break_duration
    """Time the breaker stays open before it lets a probe through."""
    break_duration_multiplier: float = _B.break_duration_multiplier
    """Factor by which the break grows each time a probe fails (1: it does not grow)."""
    max_break_duration: Seconds = _B.max_break_duration
    """Longest break, however often it grew."""
    half_open_calls: int = _B.half_open_calls
    """Probe calls let through once the break is over."""
    half_open_successes: int | None = _B.half_open_successes
    """Probes that must succeed to close it again; absent: all of them."""

    def options(self) -> CircuitBreakerOptions:
        return CircuitBreakerOptions(**self.model_dump())


_O = DEFAULT_OUTLIER_OPTIONS
_DETECTORS = (
    "consecutive_5xx",
    "consecutive_gateway_failure",
    "success_rate_stdev_factor",
    "failure_percentage_threshold",
)


class OutlierPolicy(PolicyModel):
    """Passive outlier detection, after Envoy's (absent or `true`: the mesh's default, Envoy's
    own; `false`: none). A null detector is off."""

    interval: Seconds = _O.interval
    """Time between two runs of the statistical detectors (success rate, failure
    percentage)."""
    base_ejection_time: Seconds = _O.base_ejection_time
    """How long the first ejection lasts; the n-th in a row lasts n times this."""
    max_ejection_time: Seconds = _O.max_ejection_time
    """Longest ejection."""
    max_ejection_percent: float = _O.max_ejection_percent
    """Most endpoints out at once, in percent (one may always be, unless 0)."""
    consecutive_5xx: int | None = _O.consecutive_5xx
    """Eject after this many 5xx or local errors in a row."""
    consecutive_gateway_failure: int | None = _O.consecutive_gateway_failure
    """Eject after this many 502, 503, 504 or local errors in a row."""
    success_rate_stdev_factor: float | None = _O.success_rate_stdev_factor
    """Eject endpoints whose success rate is below mean - factor x stdev."""
    success_rate_minimum_hosts: int = _O.success_rate_minimum_hosts
    """Endpoints with enough requests needed before the success-rate detector judges."""
    success_rate_request_volume: int = _O.success_rate_request_volume
    """Requests in an interval an endpoint needs to be judged on success rate."""
    failure_percentage_threshold: float | None = _O.failure_percentage_threshold
    """Eject endpoints failing at least this percentage of requests."""
    failure_percentage_minimum_hosts: int = _O.failure_percentage_minimum_hosts
    """Endpoints with enough requests needed before the failure-percentage detector judges."""
    failure_percentage_request_volume: int = _O.failure_percentage_request_volume
    """Requests in an interval an endpoint needs to be judged on failure percentage."""

    def options(self) -> OutlierOptions:
        return OutlierOptions(**self.model_dump())

    @property
    def detects(self) -> bool:
        """Whether any detector is on (with none, no detector need run at all)."""
        return any(getattr(self, name) is not None for name in _DETECTORS)


class BulkheadPolicy(PolicyModel):
    """Calls to the service at once, and a queue for more."""

    max_concurrent: int
    """Calls in flight at once."""
    max_queued: int = field_default(BulkheadOptions, "max_queued")
    """Calls that may wait for a slot beyond those; more are refused at once (503)."""
    max_queue_wait: Seconds | None = field_default(BulkheadOptions, "max_queue_wait")
    """Time a call may wait for a slot; absent: as long as it takes."""

    def options(self) -> BulkheadOptions:
        return BulkheadOptions(**self.model_dump())


def _switch(model: type[PolicyModel], off: dict[str, Any] | None, on: dict[str, Any] | None) -> Any:
    """A section that may also be `true` (read as ``on``) or `false` (read as ``off``)."""

    def read(value: Any) -> Any:
        if value is True:
            return on
        if value is False:
            return off
        if value is not None and not isinstance(value, dict | model):
            raise ValueError("must be true, false or a mapping (key: value lines)")
        return value

    # The JSON Schema says so too, so that an editor accepts `breaker: false`.
    return BeforeValidator(read, json_schema_input_type=model | bool | None)


class ServicePolicy(PolicyModel):
    """Per-service settings the mesh applies when calling the service."""

    algorithm: AlgorithmName = DEFAULT_ALGORITHM
    """How an instance is picked: `p2c_ewma` (latency-aware), `round_robin`,
    `weighted_round_robin`, `least_request`, `random`, `weighted_random`, `ring_hash`,
    `maglev`."""
    timeout: Seconds | None = None
    """Time a call to the service may take, all attempts together; absent: no limit."""
    retry: RetryPolicy = RetryPolicy()
    """Retries: attempts, backoff, budget (`max_attempts: N` directly under `policy` is kept
    as a shorthand for `retry.max_attempts`)."""
    breaker: Annotated[BreakerPolicy | None, _switch(BreakerPolicy, None, {})] = BreakerPolicy()
    """A circuit breaker per instance: `true` (5 consecutive failures open it for 10 s, or a
    failure rate of 50 %), `false`, or its settings."""
    outlier_detection: Annotated[
        OutlierPolicy | None, _switch(OutlierPolicy, dict.fromkeys(_DETECTORS), None)
    ] = None
    """Instances set aside for a while when their answers stand out: absent or `true` (the
    mesh's default: Envoy's), `false`, or its settings."""
    bulkhead: BulkheadPolicy | None = None
    """Calls to the service in flight at once, and waiting; absent: no bound."""
    slow_start: Seconds = DEFAULT_SLOW_START
    """Time over which a new or recovered instance ramps up to its full share of traffic; `0`: at
    once."""
    slow_start_aggression: float = DEFAULT_SLOW_START_AGGRESSION
    """Shape of that ramp: 1 is linear, more sends traffic sooner."""
    slow_start_min_weight: float = DEFAULT_SLOW_START_MIN_WEIGHT
    """Share of its weight (0-1) an instance starts its ramp with."""
    panic_threshold: float = DEFAULT_PANIC_THRESHOLD
    """When fewer than this share (0-1) of the instances are usable, send to all of them rather
    than crush the few left (Envoy's panic mode); `0`: never."""

    @model_validator(mode="before")
    @classmethod
    def _max_attempts_shorthand(cls, data: Any) -> Any:
        # `max_attempts` predates the `retry` section; a file that says it keeps working.
        if not isinstance(data, dict) or "max_attempts" not in data:
            return data
        data = dict(data)
        attempts = data.pop("max_attempts")
        retry = data.get("retry", {})
        if isinstance(retry, RetryPolicy):
            retry = retry.model_dump(exclude_unset=True)
        if isinstance(retry, dict):
            if "max_attempts" in retry:
                raise OptionRefused(
                    "max_attempts is given twice: keep retry.max_attempts only",
                    option="max_attempts",
                )
            data["retry"] = {**retry, "max_attempts": attempts}
        return data

    @model_validator(mode="after")
    def _timeout_checks(self) -> Self:
        self.timeout_options()
        return self

    @property
    def max_attempts(self) -> int:
        """Attempts per request, the first included (``retry.max_attempts``)."""
        return self.retry.max_attempts

    def options(self) -> BalancerOptions:
        """The balancer's options (the other sections build their own)."""
        return BalancerOptions(
            algorithm=self.algorithm,
            slow_start=self.slow_start,
            slow_start_aggression=self.slow_start_aggression,
            slow_start_min_weight=self.slow_start_min_weight,
            panic_threshold=self.panic_threshold,
        )

    def timeout_options(self) -> TimeoutOptions | None:
        seconds = self.timeout
        if seconds is None:
            return None
        return under_key("timeout", lambda: TimeoutOptions(seconds=seconds))

    def outlier_options(self, default: OutlierOptions | None) -> OutlierOptions | None:
        """This service's detection: its own, or ``default`` (the mesh's) if it has none."""
        section = self.outlier_detection
        if section is None:
            return default
        return section.options() if section.detects else None
