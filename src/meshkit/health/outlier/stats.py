"""The two statistical outlier tests, as plain functions over per-endpoint numbers.

Both take ``{endpoint_id: (requests, failures)}`` for one interval and return the endpoints to
eject, worst first (so that when the ejection cap bites, the worst go first).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

__all__ = ["failure_percentage_outliers", "success_rate_outliers"]

Volume = tuple[int, int]  # (requests, failures) in one interval


def success_rate_outliers(
    volumes: Mapping[str, Volume],
    *,
    stdev_factor: float,
    minimum_hosts: int,
    request_volume: int,
) -> list[tuple[str, float]]:
    """Endpoints whose success rate (%) is below mean - ``stdev_factor`` x stdev.

    Only endpoints with at least ``request_volume`` requests take part, and the test is skipped
    below ``minimum_hosts`` of them: a mean over too few endpoints says nothing. The standard
    deviation is the population one, as in Envoy.
    """
    rates = {
        endpoint: 100.0 * (requests - failures) / requests
        for endpoint, (requests, failures) in volumes.items()
        if requests >= request_volume
    }
    if len(rates) < minimum_hosts:
        return []
    values = list(rates.values())
    threshold = statistics.fmean(values) - stdev_factor * statistics.pstdev(values)
    return sorted(((e, r) for e, r in rates.items() if r < threshold), key=lambda item: item[1])


def failure_percentage_outliers(
    volumes: Mapping[str, Volume],
    *,
    threshold: float,
    minimum_hosts: int,
    request_volume: int,
) -> list[tuple[str, float]]:
    """Endpoints failing at least ``threshold`` % of their requests (same volume rules)."""
    percentages = {
        endpoint: 100.0 * failures / requests
        for endpoint, (requests, failures) in volumes.items()
        if requests >= request_volume
    }
    if len(percentages) < minimum_hosts:
        return []
    return sorted(
        ((e, p) for e, p in percentages.items() if p >= threshold),
        key=lambda item: -item[1],
    )
