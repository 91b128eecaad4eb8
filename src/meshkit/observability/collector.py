"""The gateway's metrics for Prometheus, read from the hot-path counters at scrape time.

Families (all prefixed ``meshkit_``): ``requests_total`` and ``request_duration_seconds``
per route and per (service, endpoint), by status class; ``requests_in_flight`` (gateway and
per route); ``upstream_connections`` (open / idle per endpoint address),
``upstream_connects_total`` and ``upstream_reuses_total``; ``breaker_state`` (0 closed,
1 open, 2 half-open, 3 forced open, 4 disabled) per endpoint; ``endpoint_healthy``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from meshkit.observability.stats import STATUS_CLASSES, RequestStats
from meshkit.resilience.breaker import CircuitState

__all__ = ["GatewayCollector"]

_BREAKER_VALUE = {
    CircuitState.CLOSED: 0,
    CircuitState.OPEN: 1,
    CircuitState.HALF_OPEN: 2,
    CircuitState.FORCED_OPEN: 3,
    CircuitState.DISABLED: 4,
}


class GatewayCollector(Collector):
    """Reads a gateway's statistics (given as callables, so nothing here imports the
    gateway): ``routes()`` → ``(route, stats)``, ``endpoints()`` → ``(service, endpoint id,
    stats, healthy, breaker state or None)``, ``pools()`` → pools, ``in_flight()``."""

    def __init__(
        self,
        *,
        routes: Callable[[], Iterable[tuple[str, RequestStats]]],
        endpoints: Callable[[], Iterable[tuple[str, str, RequestStats, bool, CircuitState | None]]],
        pools: Callable[[], Iterable[Any]],
        in_flight: Callable[[], int],
        unrouted: Callable[[], RequestStats] | None = None,
    ) -> None:
        self._routes = routes
        self._endpoints = endpoints
        self._pools = pools
        self._in_flight = in_flight
        self._unrouted = unrouted

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(
            "meshkit_requests", "Requests by route and status class.", labels=["route", "class"]
        )
        duration = HistogramMetricFamily(
            "meshkit_request_duration_seconds", "Request latency by route.", labels=["route"]
        )
        route_in_flight = GaugeMetricFamily(
            "meshkit_route_requests_in_flight", "Requests in flight by route.", labels=["route"]
        )
        for route, stats in self._routes():
            _add_counts(requests, [route], stats)
            duration.add_metric([route], stats.cumulative_buckets(), stats.latency_sum)
            route_in_flight.add_metric([route], stats.in_flight)
        yield requests
        yield duration
        yield route_in_flight
        if self._unrouted is not None:
            unrouted = CounterMetricFamily(
                "meshkit_unrouted_requests",
                "Requests no route took (404, or 405 for another method), by status class.",
                labels=["class"],
            )
            _add_counts(unrouted, [], self._unrouted())
            yield unrouted
        yield from self._endpoint_families()
        yield from self._pool_families()
        yield GaugeMetricFamily(
            "meshkit_requests_in_flight", "Requests in flight in the gateway.", self._in_flight()
        )

    def _endpoint_families(self) -> Iterator[Any]:
        labels = ["service", "endpoint"]
        requests = CounterMetricFamily(
            "meshkit_upstream_requests",
            "Upstream requests by endpoint and status class.",
            labels=[*labels, "class"],
        )
        duration = HistogramMetricFamily(
            "meshkit_upstream_duration_seconds", "Upstream latency by endpoint.", labels=labels
        )
        breaker = GaugeMetricFamily(
            "meshkit_breaker_state",
            "Endpoint breaker: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled.",
            labels=labels,
        )
        healthy = GaugeMetricFamily(
            "meshkit_endpoint_healthy", "1 if the endpoint may receive traffic.", labels=labels
        )
        for service, endpoint, stats, is_healthy, state in self._endpoints():
            _add_counts(requests, [service, endpoint], stats)
            duration.add_metric([service, endpoint], stats.cumulative_buckets(), stats.latency_sum)
            healthy.add_metric([service, endpoint], 1 if is_healthy else 0)
            if state is not None:
                breaker.add_metric([service, endpoint], _BREAKER_VALUE[state])
        yield requests
        yield duration
        yield breaker
        yield healthy

    def _pool_families(self) -> Iterator[Any]:
        open_ = GaugeMetricFamily(
            "meshkit_upstream_connections",
            "Upstream connections by service and address.",
            labels=["service", "address", "state"],
        )
        connects = CounterMetricFamily(
            "meshkit_upstream_connects",
            "Upstream connections opened.",
            labels=["service", "address"],
        )
        reuses = CounterMetricFamily(
            "meshkit_upstream_reuses",
            "Requests sent on a reused connection.",
            labels=["service", "address"],
        )
        for pool in self._pools():
            labels = [pool.service, f"{pool.host}:{pool.port}"]
            open_.add_metric([*labels, "open"], pool.total)
            open_.add_metric([*labels, "idle"], pool.idle)
            connects.add_metric(labels, pool.connects)
            reuses.add_metric(labels, pool.reuses)
        yield open_
        yield connects
        yield reuses


def _add_counts(family: CounterMetricFamily, labels: list[str], stats: RequestStats) -> None:
    for name, count in zip(STATUS_CLASSES, stats.by_class, strict=True):
        if count:
            family.add_metric([*labels, name], count)
