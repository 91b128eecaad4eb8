"""Passive outlier detection: set aside endpoints that real traffic shows to be failing.

Theory of operation
-------------------
The gateway (or client) reports every response with ``record(endpoint, outcome, now)``, where
``outcome`` is the HTTP status or an :class:`ErrorKind` for failures that produced no response.
Two kinds of detector read those reports, after Envoy's outlier detection:

* *consecutive* detectors run inside ``record``: a streak of 5xx (``consecutive_5xx``), or of
  502/503/504 (``consecutive_gateway_failure``), ejects at once. Local errors (connect failure,
  timeout, reset) count as both; any other status ends both streaks, and a non-gateway 5xx
  ends the gateway streak only;
* *statistical* detectors run in ``evaluate(now)``, which the owner calls every ``interval``:
  success rate (mean - k x stdev) and failure percentage over the requests of that interval,
  among endpoints with enough volume. The interval's counts then start again from zero.

An ejection lasts ``base_ejection_time`` x n, where n counts recent ejections: it grows by one
per ejection (until the product reaches ``max_ejection_time``) and shrinks by one for every
``interval`` the endpoint stays in after coming back — so a flapping endpoint stays out longer
and longer, and a recovered one is forgiven gradually. Ejections beyond
``max_ejection_percent`` of the endpoints are refused, so detection can never empty a cluster.

``is_ejected(endpoint, now)`` answers exactly by time. The bookkeeping of an ejection that ran
out (counters reset, ``EndpointUnejected`` event) happens at the next ``record`` or
``evaluate``. Nothing here reads the clock for decisions; the clock only stamps events.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.events import EventBus
from meshkit.health.outlier.events import EjectionReason, EndpointEjected, EndpointUnejected
from meshkit.health.outlier.options import DEFAULT_OUTLIER_OPTIONS, OutlierOptions
from meshkit.health.outlier.stats import failure_percentage_outliers, success_rate_outliers

__all__ = ["Ejection", "EndpointOutlierStats", "ErrorKind", "OutlierDetector"]

_GATEWAY_ERRORS = frozenset({502, 503, 504})
_NEVER = -math.inf


class ErrorKind(enum.StrEnum):
    """A failure that produced no HTTP response (Envoy's "locally originated" errors)."""

    CONNECT_FAILED = "connect_failed"
    TIMEOUT = "timeout"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class Ejection:
    """``endpoint_id`` was ejected for ``reason`` until monotonic time ``until``."""

    endpoint_id: str
    reason: EjectionReason
    until: float
    ejections: int


@dataclass(frozen=True, slots=True)
class EndpointOutlierStats:
    """What the detector knows about one endpoint (for admin views and tests)."""

    requests: int  # in the current interval
    failures: int  # in the current interval
    consecutive_5xx: int
    consecutive_gateway_failure: int
    ejected_until: float | None
    multiplier: int
    times_ejected: int


class _Endpoint:
    __slots__ = (
        "consecutive_5xx",
        "consecutive_gateway",
        "ejected_until",
        "failures",
        "multiplier",
        "requests",
        "times_ejected",
        "unejected_at",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.consecutive_5xx = 0
        self.consecutive_gateway = 0
        self.ejected_until = _NEVER
        self.unejected_at: float | None = None
        self.multiplier = 0
        self.times_ejected = 0


class OutlierDetector:
    """Envoy-style passive outlier detection over one cluster of endpoints."""

    def __init__(
        self,
        options: OutlierOptions = DEFAULT_OUTLIER_OPTIONS,
        *,
        name: str = "outlier",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.options = options
        self.name = name
        self._clock = clock  # stamps events only; decisions use the `now` callers pass
        self._events = events
        self._endpoints: dict[str, _Endpoint] = {}
        self._ejected: dict[str, _Endpoint] = {}
        self._next_release = math.inf

    # -- membership ------------------------------------------------------------------------
    def update_endpoints(self, endpoint_ids: Iterable[str]) -> None:
        """Make the known endpoints exactly ``endpoint_ids`` (the total the cap is a share of)."""
        wanted = set(endpoint_ids)
        for endpoint_id in [e for e in self._endpoints if e not in wanted]:
            self.remove_endpoint(endpoint_id)
        for endpoint_id in wanted:
            self._endpoints.setdefault(endpoint_id, _Endpoint())

    def remove_endpoint(self, endpoint_id: str) -> None:
        self._endpoints.pop(endpoint_id, None)
        self._ejected.pop(endpoint_id, None)

    def __len__(self) -> int:
        return len(self._endpoints)

    # -- the data path ---------------------------------------------------------------------
    def record(self, endpoint_id: str, outcome: int | ErrorKind, now: float) -> Ejection | None:
        """Count one response (status code) or local error; eject on a failure streak."""
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None:
            endpoint = self._endpoints[endpoint_id] = _Endpoint()
        if now >= self._next_release:
            self._release_expired(now)
        endpoint.requests += 1
        if isinstance(outcome, ErrorKind):
            gateway = True
        elif outcome >= 500:
            gateway = outcome in _GATEWAY_ERRORS
        else:
            endpoint.consecutive_5xx = 0
            endpoint.consecutive_gateway = 0
            return None
        endpoint.failures += 1
        endpoint.consecutive_5xx += 1
        endpoint.consecutive_gateway = endpoint.consecutive_gateway + 1 if gateway else 0
        if endpoint.ejected_until > now:
            return None  # a late answer from an endpoint already out
        options = self.options
        gateway_limit = options.consecutive_gateway_failure
        if gateway_limit is not None and endpoint.consecutive_gateway >= gateway_limit:
            return self._eject(
                endpoint_id, endpoint, EjectionReason.CONSECUTIVE_GATEWAY_FAILURE, now
            )
        limit_5xx = options.consecutive_5xx
        if limit_5xx is not None and endpoint.consecutive_5xx >= limit_5xx:
            return self._eject(endpoint_id, endpoint, EjectionReason.CONSECUTIVE_5XX, now)
        return None

    def uneject(self, endpoint_id: str, now: float) -> bool:
        """End an ejection early — an active health check just saw the endpoint pass (Envoy's
        ``successful_active_health_check_uneject_host``). True if it was ejected."""
        endpoint = self._ejected.get(endpoint_id)
        if endpoint is None or endpoint.ejected_until <= now:
            return False
        endpoint.ejected_until = now
        self._release_expired(now)
        return True

    def is_ejected(self, endpoint_id: str, now: float) -> bool:
        endpoint = self._endpoints.get(endpoint_id)
        return endpoint is not None and endpoint.ejected_until > now

    def ejected(self, now: float) -> set[str]:
        """The endpoints out of rotation at ``now``."""
        return {e for e, endpoint in self._ejected.items() if endpoint.ejected_until > now}

    # -- the interval ----------------------------------------------------------------------
    def evaluate(self, now: float) -> list[Ejection]:
        """Run the statistical detectors over the interval just ended; start a new interval."""
        self._release_expired(now)
        interval = self.options.interval
        for endpoint in self._endpoints.values():
            if (
                endpoint.multiplier > 0
                and endpoint.ejected_until <= now
                and endpoint.unejected_at is not None
                and now - endpoint.unejected_at >= interval
            ):
                endpoint.multiplier -= 1  # one more interval in rotation: forgive a little
        candidates = self._statistical_outliers()
        for endpoint in self._endpoints.values():
            endpoint.requests = 0
            endpoint.failures = 0
        ejections: list[Ejection] = []
        for endpoint_id, reason in candidates:
            endpoint = self._endpoints[endpoint_id]
            if endpoint.ejected_until > now:
                continue
            ejection = self._eject(endpoint_id, endpoint, reason, now)
            if ejection is None:
                break  # the cap is reached; worse candidates came first
            ejections.append(ejection)
        return ejections

    def _statistical_outliers(self) -> list[tuple[str, EjectionReason]]:
        options = self.options
        volumes = {e: (ep.requests, ep.failures) for e, ep in self._endpoints.items()}
        found: list[tuple[str, EjectionReason]] = []
        if options.success_rate_stdev_factor is not None:
            found.extend(
                (endpoint_id, EjectionReason.SUCCESS_RATE)
                for endpoint_id, _ in success_rate_outliers(
                    volumes,
                    stdev_factor=options.success_rate_stdev_factor,
                    minimum_hosts=options.success_rate_minimum_hosts,
                    request_volume=options.success_rate_request_volume,
                )
            )
        if options.failure_percentage_threshold is not None:
            found.extend(
                (endpoint_id, EjectionReason.FAILURE_PERCENTAGE)
                for endpoint_id, _ in failure_percentage_outliers(
                    volumes,
                    threshold=options.failure_percentage_threshold,
                    minimum_hosts=options.failure_percentage_minimum_hosts,
                    request_volume=options.failure_percentage_request_volume,
                )
            )
        return found

    # -- ejecting and releasing ------------------------------------------------------------
    def _room_for_one_more(self) -> bool:
        percent = self.options.max_ejection_percent
        if percent <= 0:
            return False
        # The epsilon keeps 10 % of 30 endpoints at 3, not 2.999... rounded down.
        cap = max(1, math.floor(len(self._endpoints) * percent / 100.0 + 1e-9))
        return len(self._ejected) < cap

    def _eject(
        self, endpoint_id: str, endpoint: _Endpoint, reason: EjectionReason, now: float
    ) -> Ejection | None:
        if not self._room_for_one_more():
            return None
        options = self.options
        base, longest = options.base_ejection_time, options.max_ejection_time
        if base * endpoint.multiplier < longest:
            endpoint.multiplier += 1
        duration = min(base * endpoint.multiplier, longest)
        endpoint.ejected_until = until = now + duration
        endpoint.times_ejected += 1
        endpoint.consecutive_5xx = 0
        endpoint.consecutive_gateway = 0
        self._ejected[endpoint_id] = endpoint
        self._next_release = min(self._next_release, until)
        events = self._events
        if events is not None and events.active:
            events.publish(
                EndpointEjected(
                    source=self.name,
                    at=self._clock.time(),
                    endpoint_id=endpoint_id,
                    reason=reason,
                    duration=duration,
                    ejections=endpoint.multiplier,
                )
            )
        return Ejection(endpoint_id, reason, until, endpoint.multiplier)

    def _release_expired(self, now: float) -> None:
        next_release = math.inf
        released: list[str] = []
        for endpoint_id, endpoint in self._ejected.items():
            if endpoint.ejected_until <= now:
                released.append(endpoint_id)
            else:
                next_release = min(next_release, endpoint.ejected_until)
        self._next_release = next_release
        events = self._events
        for endpoint_id in released:
            endpoint = self._ejected.pop(endpoint_id)
            endpoint.unejected_at = endpoint.ejected_until
            # Failures that landed while it was out must not re-eject it on its first error.
            endpoint.consecutive_5xx = 0
            endpoint.consecutive_gateway = 0
            if events is not None and events.active:
                events.publish(
                    EndpointUnejected(
                        source=self.name, at=self._clock.time(), endpoint_id=endpoint_id
                    )
                )

    # -- introspection ---------------------------------------------------------------------
    def stats(self, endpoint_id: str) -> EndpointOutlierStats:
        endpoint = self._endpoints[endpoint_id]
        return EndpointOutlierStats(
            requests=endpoint.requests,
            failures=endpoint.failures,
            consecutive_5xx=endpoint.consecutive_5xx,
            consecutive_gateway_failure=endpoint.consecutive_gateway,
            ejected_until=None if endpoint.ejected_until == _NEVER else endpoint.ejected_until,
            multiplier=endpoint.multiplier,
            times_ejected=endpoint.times_ejected,
        )

    def __repr__(self) -> str:
        return (
            f"OutlierDetector({self.name!r}, endpoints={len(self._endpoints)}, "
            f"ejected={len(self._ejected)})"
        )
