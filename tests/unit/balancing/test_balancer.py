from __future__ import annotations

import random
from collections import Counter

import pytest

from meshkit.balancing import BalancerOptions, Endpoint, LoadBalancer, PanicModeChanged
from meshkit.clock import FakeClock
from meshkit.errors import ConfigError, NoHealthyEndpoint
from meshkit.events import EventBus
from meshkit.testing import EventRecorder


def make(clock: FakeClock, bus: EventBus | None = None, **options: object) -> LoadBalancer:
    options.setdefault("algorithm", "round_robin")
    return LoadBalancer(
        BalancerOptions(**options),  # type: ignore[arg-type]
        name="orders",
        clock=clock,
        events=bus,
        rng=random.Random(4),
    )


def spread(balancer: LoadBalancer, picks: int = 1000) -> Counter[str]:
    return Counter(balancer.pick().id for _ in range(picks))


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"algorithm": "fastest"}, "algorithm"),
        ({"panic_threshold": 1.5}, "panic_threshold"),
        ({"slow_start": -1}, "slow_start"),
        ({"slow_start_min_weight": 0}, "slow_start_min_weight"),
        ({"penalty": 0}, "penalty"),
    ],
)
def test_invalid_options_name_the_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        BalancerOptions(**options)  # type: ignore[arg-type]


def test_invalid_endpoints_are_refused() -> None:
    with pytest.raises(ConfigError, match="weight"):
        Endpoint("a", weight=10_001)
    with pytest.raises(ConfigError, match="id"):
        Endpoint("")


def test_skips_unhealthy_ejected_and_breaker_open_endpoints(clock: FakeClock) -> None:
    balancer = make(clock, panic_threshold=0.0)
    balancer.set_endpoints([Endpoint(f"e{i}") for i in range(4)])
    balancer.set_healthy("e0", False)
    balancer.set_ejected("e1", True)
    balancer.set_breaker_open("e2", True)
    assert set(spread(balancer)) == {"e3"}
    balancer.set_ejected("e1", False)
    assert set(spread(balancer)) == {"e1", "e3"}


def test_no_usable_endpoint_raises_with_retry_after(clock: FakeClock) -> None:
    balancer = make(clock, panic_threshold=0.0, no_endpoint_retry_after=2.5)
    with pytest.raises(NoHealthyEndpoint) as info:
        balancer.pick()
    assert info.value.retry_after == 2.5
    balancer.set_endpoints([Endpoint("only")])
    balancer.set_healthy("only", False)
    with pytest.raises(NoHealthyEndpoint, match="no usable endpoint among 1"):
        balancer.pick()


def test_panic_routes_over_all_but_breaker_open(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    balancer = make(clock, bus, panic_threshold=0.5)
    balancer.set_endpoints([Endpoint(f"e{i}") for i in range(4)])
    balancer.set_healthy("e0", False)
    assert not balancer.panic  # 3 of 4 usable
    balancer.set_healthy("e1", False)
    assert not balancer.panic  # 2 of 4 is exactly the threshold: not below it
    balancer.set_breaker_open("e2", True)
    assert balancer.panic  # 1 of 4
    assert set(spread(balancer)) == {"e0", "e1", "e3"}
    balancer.set_healthy("e0", True)
    assert not balancer.panic
    assert [e.panic for e in recorder.of(PanicModeChanged)] == [True, False]


def test_prefers_the_local_zone_while_it_is_healthy_enough(clock: FakeClock) -> None:
    balancer = make(clock, local_zone="eu-1", panic_threshold=0.3)
    balancer.set_endpoints(
        [Endpoint("a", zone="eu-1"), Endpoint("b", zone="eu-1"), Endpoint("c", zone="us-1")]
    )
    assert set(spread(balancer)) == {"a", "b"}
    balancer.set_healthy("a", False)
    assert set(spread(balancer)) == {"b"}  # 1 of 2 local is above the 30 % threshold
    balancer.set_healthy("b", False)
    assert set(spread(balancer)) == {"c"}


def test_slow_start_ramps_a_returning_endpoint(clock: FakeClock) -> None:
    balancer = make(clock, algorithm="weighted_random", slow_start=10.0, panic_threshold=0.0)
    balancer.set_endpoints([Endpoint("old"), Endpoint("back")])
    assert spread(balancer, 4000)["back"] / 4000 == pytest.approx(0.5, abs=0.03)  # no ramp at first
    balancer.set_healthy("back", False)
    balancer.set_healthy("back", True)
    share_at_start = spread(balancer, 4000)["back"] / 4000
    assert share_at_start == pytest.approx(0.1 / 1.1, abs=0.03)  # the minimum weight, 10 %
    clock.advance(5.0)
    assert spread(balancer, 4000)["back"] / 4000 == pytest.approx(0.5 / 1.5, abs=0.03)
    clock.advance(5.0)
    assert spread(balancer, 4000)["back"] / 4000 == pytest.approx(0.5, abs=0.03)


def test_set_endpoints_keeps_live_state_of_known_ids(clock: FakeClock) -> None:
    balancer = make(clock)
    balancer.set_endpoints([Endpoint("a"), Endpoint("b")])
    balancer.set_healthy("a", False)
    endpoint = balancer.pick()
    balancer.start(endpoint)  # one request in flight
    balancer.set_endpoints([Endpoint("a", weight=50), Endpoint("b", weight=7), Endpoint("c")])
    live = balancer.get("b")
    assert live is endpoint
    assert live.in_flight == 1
    assert live.weight == 7
    assert balancer.get("a") is not None
    assert not balancer.get("a").healthy  # type: ignore[union-attr]
    balancer.remove("c")
    assert [e.id for e in balancer.endpoints] == ["a", "b"]


def test_finish_feeds_latency_and_penalises_429(clock: FakeClock) -> None:
    balancer = make(clock, algorithm="p2c_ewma", penalty=3.0, failure_penalty=4.0)
    balancer.set_endpoints([Endpoint("a"), Endpoint("b")])
    a = balancer.get("a")
    assert a is not None
    started = balancer.start(a)
    clock.advance(0.05)
    assert balancer.finish(a, started, status=200) == pytest.approx(0.05)
    assert a.in_flight == 0
    assert a.ewma == pytest.approx(0.05)
    balancer.finish(a, balancer.start(a), status=429)
    assert a.penalty_until == pytest.approx(3.05)
    balancer.finish(a, balancer.start(a), status=503, retry_after=8.0)
    assert a.penalty_until == pytest.approx(8.05)
    assert set(spread(balancer, 50)) == {"b"}


def test_a_failure_counts_its_latency_several_times_over(clock: FakeClock) -> None:
    balancer = make(clock, algorithm="p2c_ewma", failure_penalty=4.0)
    balancer.set_endpoints([Endpoint("a")])
    a = balancer.get("a")
    assert a is not None
    started = balancer.start(a)
    clock.advance(0.1)  # e.g. cancelled by a 100 ms timeout
    balancer.finish(a, started, failed=True)
    assert a.ewma == pytest.approx(0.4)


def test_requests_in_flight_raise_the_cost_before_they_answer(clock: FakeClock) -> None:
    balancer = make(clock, algorithm="p2c_ewma")
    balancer.set_endpoints([Endpoint("stuck"), Endpoint("fine")])
    stuck, fine = balancer.get("stuck"), balancer.get("fine")
    assert stuck is not None
    assert fine is not None
    for endpoint in (stuck, fine):
        balancer.finish(endpoint, balancer.start(endpoint))  # both measured at ~0 s
    fine.ewma = 0.010
    stuck.ewma = 0.005  # looked faster...
    balancer.start(stuck)
    clock.advance(0.2)  # ...but its request has been waiting 200 ms
    fine.ewma_at = stuck.ewma_at = clock.monotonic()
    assert set(spread(balancer, 30)) == {"fine"}
