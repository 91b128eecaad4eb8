"""The library options a :class:`~meshkit.upstreams.ServiceRoute` is built from.

A route builds nothing from defaults of its own: each policy it runs gets an options object
built here from the service's :class:`~meshkit.registry.ServicePolicy` (whose sections hold
the defaults), or handed in whole by a caller that wants other ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.balancing import BalancerOptions
from meshkit.clock import Clock
from meshkit.health import OutlierOptions
from meshkit.registry import ServicePolicy
from meshkit.resilience import BulkheadOptions, CircuitBreakerOptions, RetryOptions, TimeoutOptions

__all__ = ["RouteOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteOptions:
    """``balancer``; a ``breaker`` per endpoint; ``outlier`` detection; a ``timeout`` over
    all attempts; ``retry`` (its ``budget`` shared by the gateway's retries); an
    ``attempt_timeout`` per try; a ``bulkhead`` over the service. ``None``: not used."""

    balancer: BalancerOptions
    breaker: CircuitBreakerOptions | None = None
    outlier: OutlierOptions | None = None
    timeout: TimeoutOptions | None = None
    retry: RetryOptions | None = None
    attempt_timeout: TimeoutOptions | None = None
    bulkhead: BulkheadOptions | None = None

    @classmethod
    def of(
        cls, policy: ServicePolicy, *, clock: Clock, outlier: OutlierOptions | None
    ) -> RouteOptions:
        """``policy``'s options; ``outlier`` is the detection of a policy that sets none
        (the mesh's default). The retry budget is a new one, on ``clock``."""
        retry = policy.retry
        return cls(
            balancer=policy.options(),
            breaker=policy.breaker.options() if policy.breaker is not None else None,
            outlier=policy.outlier_options(outlier),
            timeout=policy.timeout_options(),
            retry=retry.options(retry.budget.options(clock)) if retry.max_attempts > 1 else None,
            attempt_timeout=retry.attempt_timeout_options(),
            bulkhead=policy.bulkhead.options() if policy.bulkhead is not None else None,
        )
