"""OutlierDetector: each detector, growing ejections, the cap, and coming back."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.errors import ConfigError
from meshkit.events import EventBus
from meshkit.health.outlier import (
    EjectionReason,
    EndpointEjected,
    EndpointUnejected,
    ErrorKind,
    OutlierDetector,
    OutlierOptions,
)
from meshkit.testing import EventRecorder

# Statistical detectors off unless a test turns them on; cap out of the way unless tested.
QUIET = {"success_rate_stdev_factor": None, "max_ejection_percent": 100.0}


def detector(endpoints: int = 10, bus: EventBus | None = None, **kw: Any) -> OutlierDetector:
    d = OutlierDetector(OutlierOptions(**{**QUIET, **kw}), events=bus)
    d.update_endpoints(f"e{i}" for i in range(endpoints))
    return d


def fail(d: OutlierDetector, endpoint: str, times: int, now: float, outcome: Any = 500) -> Any:
    last = None
    for _ in range(times):
        last = d.record(endpoint, outcome, now)
    return last


@pytest.mark.parametrize(
    ("option", "kwargs"),
    [
        ("interval", {"interval": 0}),
        ("base_ejection_time", {"base_ejection_time": 400.0}),
        ("max_ejection_percent", {"max_ejection_percent": 101}),
        ("consecutive_5xx", {"consecutive_5xx": 0}),
        ("consecutive_gateway_failure", {"consecutive_gateway_failure": 2.5}),
        ("success_rate_stdev_factor", {"success_rate_stdev_factor": -1}),
        ("success_rate_request_volume", {"success_rate_request_volume": 0}),
        ("failure_percentage_threshold", {"failure_percentage_threshold": 150}),
        ("failure_percentage_minimum_hosts", {"failure_percentage_minimum_hosts": 0}),
    ],
)
def test_options_reject(option: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        OutlierOptions(**kwargs)
    assert info.value.option == option


def test_consecutive_5xx_ejects_on_the_fifth(bus: EventBus, recorder: EventRecorder) -> None:
    d = detector(bus=bus)
    assert fail(d, "e1", 4, now=1.0) is None
    assert not d.is_ejected("e1", 1.0)
    ejection = d.record("e1", 503, 1.0)
    assert ejection is not None
    assert (ejection.reason, ejection.until, ejection.ejections) == (
        EjectionReason.CONSECUTIVE_5XX,
        31.0,
        1,
    )
    assert d.is_ejected("e1", 30.9)
    assert not d.is_ejected("e1", 31.0)
    [event] = recorder.of(EndpointEjected)
    assert (event.endpoint_id, event.reason, event.duration) == ("e1", "consecutive_5xx", 30.0)


def test_a_success_ends_the_streak() -> None:
    d = detector()
    fail(d, "e1", 4, now=0.0)
    d.record("e1", 404, 0.0)  # a 4xx is the caller's problem, not the endpoint's
    assert fail(d, "e1", 4, now=0.0) is None
    assert d.stats("e1").consecutive_5xx == 4


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_local_errors_count_as_5xx(kind: ErrorKind) -> None:
    d = detector()
    assert fail(d, "e1", 5, now=0.0, outcome=kind) is not None


def test_consecutive_gateway_failures() -> None:
    d = detector(consecutive_5xx=None, consecutive_gateway_failure=3)
    d.record("e1", 502, 0.0)
    d.record("e1", 504, 0.0)
    d.record("e1", 500, 0.0)  # a 5xx that is not a gateway error ends the gateway streak
    assert d.stats("e1").consecutive_gateway_failure == 0
    d.record("e1", 503, 0.0)
    d.record("e1", ErrorKind.CONNECT_FAILED, 0.0)
    ejection = d.record("e1", ErrorKind.TIMEOUT, 0.0)
    assert ejection is not None
    assert ejection.reason is EjectionReason.CONSECUTIVE_GATEWAY_FAILURE


def test_gateway_detector_is_checked_first() -> None:
    d = detector(consecutive_5xx=3, consecutive_gateway_failure=3)
    ejection = fail(d, "e1", 3, now=0.0, outcome=502)
    assert ejection.reason is EjectionReason.CONSECUTIVE_GATEWAY_FAILURE


def test_ejections_in_a_row_grow_up_to_the_maximum() -> None:
    d = detector(base_ejection_time=30.0, max_ejection_time=75.0)
    durations = []
    now = 0.0
    for _ in range(5):
        ejection = fail(d, "e1", 5, now)
        durations.append(ejection.until - now)
        now = ejection.until  # back in rotation, and failing again at once
    assert durations == [30.0, 60.0, 75.0, 75.0, 75.0]


def test_time_in_rotation_shrinks_the_next_ejection() -> None:
    d = detector(interval=10.0, base_ejection_time=30.0)
    fail(d, "e1", 5, 0.0)  # out until 30
    fail(d, "e1", 5, 30.0)  # out until 90 (x2)
    assert d.stats("e1").multiplier == 2
    d.evaluate(95.0)  # back for 5 s: less than an interval, no forgiveness yet
    assert d.stats("e1").multiplier == 2
    d.evaluate(100.0)
    assert d.stats("e1").multiplier == 1
    d.evaluate(110.0)
    d.evaluate(120.0)  # never below zero
    assert d.stats("e1").multiplier == 0
    ejection = fail(d, "e1", 5, 121.0)
    assert ejection.until == 151.0


def test_a_late_failure_of_an_ejected_endpoint_changes_nothing() -> None:
    d = detector()
    first = fail(d, "e1", 5, 0.0)
    assert fail(d, "e1", 10, 1.0) is None
    assert d.stats("e1").ejected_until == first.until


def test_unejection_resets_streaks_and_is_announced(bus: EventBus, recorder: EventRecorder) -> None:
    d = detector(bus=bus)
    fail(d, "e1", 5, 0.0)
    fail(d, "e1", 4, 10.0)  # failures while out
    assert d.ejected(29.0) == {"e1"}
    assert d.ejected(30.0) == set()
    assert recorder.of(EndpointUnejected) == []
    d.record("e1", 500, 30.0)  # the bookkeeping happens on the next record
    [event] = recorder.of(EndpointUnejected)
    assert event.endpoint_id == "e1"
    assert d.stats("e1").consecutive_5xx == 1  # the four from while it was out are forgotten


def test_unejection_is_also_noticed_by_evaluate(bus: EventBus, recorder: EventRecorder) -> None:
    d = detector(bus=bus)
    fail(d, "e1", 5, 0.0)
    d.evaluate(40.0)
    assert [e.endpoint_id for e in recorder.of(EndpointUnejected)] == ["e1"]


def test_cap_limits_the_share_ejected_at_once() -> None:
    d = detector(endpoints=10, max_ejection_percent=20.0)
    assert fail(d, "e1", 5, 0.0) is not None
    assert fail(d, "e2", 5, 1.0) is not None
    assert fail(d, "e3", 5, 2.0) is None  # 3 of 10 would exceed 20 %
    assert d.ejected(2.0) == {"e1", "e2"}
    assert d.record("e3", 500, 30.0) is not None  # e1 came back at 30: room again


def test_cap_still_allows_one_in_a_small_cluster() -> None:
    d = detector(endpoints=3, max_ejection_percent=10.0)
    assert fail(d, "e0", 5, 0.0) is not None
    assert fail(d, "e1", 5, 0.0) is None


def test_zero_percent_never_ejects() -> None:
    d = detector(endpoints=3, max_ejection_percent=0.0)
    assert fail(d, "e0", 50, 0.0) is None


def traffic(d: OutlierDetector, now: float, failures: dict[str, int], requests: int = 100) -> None:
    """`requests` to every endpoint, `failures[e]` of them 500s, never two 500s in a row."""
    for endpoint in [f"e{i}" for i in range(len(d))]:
        bad = failures.get(endpoint, 0)
        assert bad <= requests // 2
        for n in range(requests):
            d.record(endpoint, 500 if n % 2 == 0 and n // 2 < bad else 200, now)


def test_success_rate_detector_runs_on_evaluate(bus: EventBus, recorder: EventRecorder) -> None:
    d = detector(endpoints=5, bus=bus, success_rate_stdev_factor=1.9, consecutive_5xx=None)
    traffic(d, 1.0, {"e4": 50})  # e4: 50 % success, the others 100 %
    assert d.ejected(1.0) == set()
    [ejection] = d.evaluate(10.0)
    assert (ejection.endpoint_id, ejection.reason) == ("e4", EjectionReason.SUCCESS_RATE)
    assert d.stats("e4").requests == 0  # a new interval starts from zero
    assert d.evaluate(20.0) == []


def test_failure_percentage_detector_runs_on_evaluate() -> None:
    d = detector(
        endpoints=5,
        consecutive_5xx=None,
        failure_percentage_threshold=40.0,
        failure_percentage_minimum_hosts=5,
        failure_percentage_request_volume=50,
    )
    traffic(d, 1.0, {"e2": 45, "e3": 30})  # 45 % and 30 % failures
    ejections = d.evaluate(10.0)
    assert [(e.endpoint_id, e.reason) for e in ejections] == [
        ("e2", EjectionReason.FAILURE_PERCENTAGE)
    ]


def test_evaluate_ejects_the_worst_first_when_the_cap_bites() -> None:
    d = detector(
        endpoints=10,
        consecutive_5xx=None,
        failure_percentage_threshold=20.0,
        max_ejection_percent=10.0,
    )
    traffic(d, 1.0, {"e1": 25, "e2": 45, "e3": 30})
    assert [e.endpoint_id for e in d.evaluate(10.0)] == ["e2"]


def test_update_endpoints_sets_the_total() -> None:
    d = detector(endpoints=10, max_ejection_percent=10.0)
    fail(d, "e1", 5, 0.0)
    d.update_endpoints(["e1", "e2"])
    assert len(d) == 2
    d.update_endpoints([])
    assert len(d) == 0
    assert not d.is_ejected("e1", 1.0)
    assert d.record("new", 200, 1.0) is None
    assert len(d) == 1


@settings(max_examples=150, deadline=None)
@given(
    endpoints=st.integers(1, 30),
    percent=st.sampled_from([0.0, 10.0, 25.0, 50.0, 100.0]),
    steps=st.lists(
        st.tuples(
            st.integers(0, 29), st.sampled_from([200, 500, 503, "evaluate"]), st.floats(0, 5)
        ),
        max_size=300,
    ),
)
def test_never_more_ejected_than_the_cap(
    endpoints: int, percent: float, steps: list[tuple[int, Any, float]]
) -> None:
    d = OutlierDetector(
        OutlierOptions(
            consecutive_5xx=2,
            consecutive_gateway_failure=2,
            max_ejection_percent=percent,
            base_ejection_time=3.0,
            max_ejection_time=9.0,
            failure_percentage_threshold=50.0,
            failure_percentage_minimum_hosts=1,
            failure_percentage_request_volume=2,
            success_rate_minimum_hosts=2,
            success_rate_request_volume=2,
        )
    )
    d.update_endpoints(f"e{i}" for i in range(endpoints))
    cap = 0 if percent == 0 else max(1, math.floor(endpoints * percent / 100 + 1e-9))
    now = 0.0
    for index, outcome, dt in steps:
        now += dt
        if outcome == "evaluate":
            d.evaluate(now)
        else:
            d.record(f"e{index % endpoints}", outcome, now)
        assert len(d.ejected(now)) <= cap
        for endpoint in d.ejected(now):
            stats = d.stats(endpoint)
            assert stats.ejected_until is not None
            assert stats.ejected_until - now <= 9.0 + 1e-9  # (now + 9) - now may round up
