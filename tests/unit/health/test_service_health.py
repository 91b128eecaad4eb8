"""ServiceHealth: counting statuses and naming the service's verdict."""

from __future__ import annotations

import pytest

from meshkit.errors import ConfigError
from meshkit.health import HealthStatus, ServiceHealth

P, W, C, U = HealthStatus.PASSING, HealthStatus.WARNING, HealthStatus.CRITICAL, HealthStatus.UNKNOWN


def test_counts() -> None:
    summary = ServiceHealth.of([P, P, W, C, U])
    assert (summary.total, summary.healthy) == (5, 3)
    assert (summary.passing, summary.warning, summary.critical, summary.unknown) == (2, 1, 1, 1)
    assert summary.healthy_share == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("statuses", "degraded_below", "verdict"),
    [
        ([P, P, P], 1.0, P),
        ([P, P, C], 1.0, W),  # by default one unhealthy target makes the service degraded
        ([P, P, C], 0.5, P),  # 2/3 healthy is not below one half
        ([P, C, C], 0.5, W),
        ([P, C], 0.5, P),  # exactly the threshold is not below it
        ([C, C], 0.5, C),
        ([U, U], 0.0, C),  # nobody healthy is critical whatever the threshold
        ([], 1.0, C),  # a service without targets cannot serve
        ([W, W], 1.0, P),  # warning targets still serve
    ],
)
def test_verdict(
    statuses: list[HealthStatus], degraded_below: float, verdict: HealthStatus
) -> None:
    summary = ServiceHealth.of(statuses, degraded_below=degraded_below)
    assert summary.status is verdict
    assert summary.degraded == (verdict is W)


def test_warning_can_be_counted_as_unhealthy() -> None:
    summary = ServiceHealth.of([P, W, W], warning_is_healthy=False)
    assert (summary.healthy, summary.status) == (1, W)
    assert ServiceHealth.of([W], warning_is_healthy=False).status is C


def test_empty_service_share_is_zero() -> None:
    assert ServiceHealth.of([]).healthy_share == 0.0


@pytest.mark.parametrize("bad", [-0.1, 1.1])
def test_threshold_is_a_share(bad: float) -> None:
    with pytest.raises(ConfigError, match="degraded_below"):
        ServiceHealth.of([P], degraded_below=bad)
