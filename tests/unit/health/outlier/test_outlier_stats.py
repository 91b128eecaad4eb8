"""The statistical outlier tests on plain numbers."""

from __future__ import annotations

from meshkit.health.outlier import failure_percentage_outliers, success_rate_outliers


def volumes(*failures: int, requests: int = 100) -> dict[str, tuple[int, int]]:
    return {f"e{i}": (requests, f) for i, f in enumerate(failures)}


def test_success_rate_below_mean_minus_k_stdev() -> None:
    # rates 100,100,100,100,50: mean 90, population stdev 20 -> threshold 90 - 1.9 * 20 = 52
    found = success_rate_outliers(
        volumes(0, 0, 0, 0, 50), stdev_factor=1.9, minimum_hosts=5, request_volume=100
    )
    assert [(e, round(rate, 9)) for e, rate in found] == [("e4", 50.0)]


def test_success_rate_factor_decides() -> None:
    data = volumes(0, 0, 0, 0, 50)
    assert success_rate_outliers(data, stdev_factor=2.1, minimum_hosts=5, request_volume=100) == []


def test_success_rate_needs_enough_hosts_with_enough_volume() -> None:
    data = volumes(0, 0, 0, 0, 50)
    assert success_rate_outliers(data, stdev_factor=1.9, minimum_hosts=6, request_volume=100) == []
    data["e0"] = (99, 0)  # below the volume: takes no part, leaving 4 hosts
    assert success_rate_outliers(data, stdev_factor=1.9, minimum_hosts=5, request_volume=100) == []


def test_success_rate_worst_first() -> None:
    found = success_rate_outliers(
        volumes(0, 0, 0, 0, 0, 0, 0, 0, 40, 60),
        stdev_factor=1.0,
        minimum_hosts=5,
        request_volume=100,
    )
    assert [e for e, _ in found] == ["e9", "e8"]


def test_equal_rates_eject_nobody() -> None:
    data = volumes(30, 30, 30, 30, 30)
    assert success_rate_outliers(data, stdev_factor=0.0, minimum_hosts=5, request_volume=1) == []


def test_failure_percentage_at_or_above_threshold_worst_first() -> None:
    found = failure_percentage_outliers(
        volumes(0, 85, 84, 99, 10), threshold=85.0, minimum_hosts=5, request_volume=50
    )
    assert found == [("e3", 99.0), ("e1", 85.0)]


def test_failure_percentage_volume_rules() -> None:
    data = volumes(90, 0, 0, 0, 0)
    assert failure_percentage_outliers(data, threshold=85, minimum_hosts=6, request_volume=50) == []
    data["e0"] = (49, 49)
    assert failure_percentage_outliers(data, threshold=85, minimum_hosts=4, request_volume=50) == []
