from __future__ import annotations

import random
from collections import Counter

import pytest

from meshkit.balancing import (
    Endpoint,
    LeastRequest,
    Maglev,
    PeakEwma,
    Random,
    RingHash,
    RoundRobin,
    SmoothWeightedRoundRobin,
    WeightedRandom,
)
from meshkit.clock import FakeClock
from meshkit.errors import ConfigError


def endpoints(n: int, weight: int = 100) -> list[Endpoint]:
    return [Endpoint(f"e{i}", weight=weight) for i in range(n)]


def test_round_robin_visits_each_in_turn() -> None:
    picker = RoundRobin(random.Random(1))
    eps = endpoints(3)
    picker.rebuild(eps, [1, 1, 1])
    picks = [picker.pick().id for _ in range(6)]
    assert sorted(picks[:3]) == ["e0", "e1", "e2"]
    assert picks[3:] == picks[:3]


def test_smooth_weighted_round_robin_interleaves() -> None:
    picker = SmoothWeightedRoundRobin()
    eps = [Endpoint("a"), Endpoint("b"), Endpoint("c")]
    picker.rebuild(eps, [5, 1, 1])
    assert "".join(picker.pick().id for _ in range(7)) == "abaaaca"
    assert "".join(picker.pick().id for _ in range(7)) == "abaaaca"


def test_random_pickers_follow_weights() -> None:
    eps = [Endpoint("heavy", weight=300), Endpoint("light", weight=100)]
    weighted = WeightedRandom(random.Random(3))
    weighted.rebuild(eps, [300, 100])
    counts = Counter(weighted.pick().id for _ in range(20_000))
    assert counts["heavy"] / 20_000 == pytest.approx(0.75, abs=0.02)
    uniform = Random(random.Random(3))
    uniform.rebuild(eps, [300, 100])
    counts = Counter(uniform.pick().id for _ in range(20_000))
    assert counts["heavy"] / 20_000 == pytest.approx(0.5, abs=0.02)


def test_least_request_prefers_fewer_in_flight_per_weight() -> None:
    eps = [Endpoint("busy"), Endpoint("idle")]
    eps[0].in_flight = 5
    picker = LeastRequest(random.Random(5))
    picker.rebuild(eps, [100, 100])
    assert {picker.pick().id for _ in range(50)} == {"idle"}
    picker.rebuild(eps, [1000, 100])  # busy has 10x the capacity: 5/1000 < 1/100
    eps[1].in_flight = 1
    assert {picker.pick().id for _ in range(50)} == {"busy"}


def test_peak_ewma_takes_slow_answers_at_once_and_forgets_them_slowly() -> None:
    clock = FakeClock()
    picker = PeakEwma(random.Random(1), clock=clock, decay=10.0)
    endpoint = Endpoint("e")
    picker.observe(endpoint, 0.010, clock.monotonic())
    picker.observe(endpoint, 0.200, clock.monotonic())
    assert endpoint.ewma == 0.200  # the peak counts in full
    clock.advance(1.0)
    picker.observe(endpoint, 0.010, clock.monotonic())
    assert 0.010 < endpoint.ewma < 0.200
    assert endpoint.ewma == pytest.approx(0.200 * 0.9048 + 0.010 * 0.0952, rel=1e-3)


def test_peak_ewma_avoids_slow_and_penalised_endpoints() -> None:
    clock = FakeClock()
    picker = PeakEwma(random.Random(2), clock=clock)
    eps = endpoints(2)
    picker.rebuild(eps, [100, 100])
    picker.observe(eps[0], 0.5, clock.monotonic())
    picker.observe(eps[1], 0.01, clock.monotonic())
    assert {picker.pick().id for _ in range(20)} == {"e1"}
    eps[1].penalty_until = clock.monotonic() + 2.0  # e1 answered 429, Retry-After: 2
    assert {picker.pick().id for _ in range(20)} == {"e0"}
    clock.advance(2.0)
    assert {picker.pick().id for _ in range(20)} == {"e1"}


@pytest.mark.parametrize("picker", [RingHash(), Maglev(table_size=5003)])
def test_hashing_is_stable_per_key_and_spreads_keys(picker: RingHash | Maglev) -> None:
    eps = endpoints(10)
    picker.rebuild(eps, [100] * 10)
    keys = [f"client-{i}".encode() for i in range(5000)]
    first = [picker.pick(k).id for k in keys]
    again = type(picker)() if isinstance(picker, RingHash) else Maglev(table_size=5003)
    again.rebuild(endpoints(10), [100] * 10)  # another process or node
    assert [again.pick(k).id for k in keys] == first
    counts = Counter(first)
    assert len(counts) == 10
    assert max(counts.values()) < 2 * min(counts.values())


def test_maglev_honours_weights() -> None:
    picker = Maglev(table_size=10007)
    picker.rebuild([Endpoint("a", weight=200), Endpoint("b", weight=100)], [200, 100])
    counts = Counter(picker.pick(f"k{i}".encode()).id for i in range(9000))
    assert counts["a"] / 9000 == pytest.approx(2 / 3, abs=0.03)


def test_maglev_table_size_must_be_prime() -> None:
    with pytest.raises(ConfigError, match="prime"):
        Maglev(table_size=65536)


def test_smooth_wrr_rebuilds_do_not_starve_light_endpoints() -> None:
    picker = SmoothWeightedRoundRobin()
    eps = [Endpoint("a"), Endpoint("b"), Endpoint("light", weight=5)]
    weights = [100.0, 100.0, 5.0]
    picker.rebuild(eps, weights)
    counts: Counter[str] = Counter()
    for i in range(4100):
        counts[picker.pick().id] += 1
        if i % 3 == 0:  # e.g. slow-start steps or health flaps, far more often than a cycle
            picker.rebuild(eps, weights)
    assert counts["light"] == pytest.approx(4100 * 5 / 205, abs=3)
