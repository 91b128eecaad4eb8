from __future__ import annotations

import dataclasses
import math

import pytest

from meshkit.ratelimit import (
    GCRA,
    Decision,
    FixedWindow,
    RateLimitAlgorithm,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)
from meshkit.ratelimit.algorithm import check_cost, decision

ALL = [
    lambda: TokenBucket(rate=2.0, burst=4),
    lambda: GCRA(rate=2.0, burst=4),
    lambda: SlidingWindowLog(limit=4, window=2.0),
    lambda: SlidingWindowCounter(limit=4, window=2.0),
    lambda: FixedWindow(limit=4, window=2.0),
]


def test_cheap_decision_is_a_real_frozen_decision() -> None:
    built = decision(True, 10, 7, 1.5, 0.0)
    assert type(built) is Decision
    assert built == Decision(True, 10, 7, 1.5, 0.0)
    assert hash(built) == hash(Decision(True, 10, 7, 1.5, 0.0))
    assert built != Decision(True, 10, 6, 1.5, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.remaining = 3  # type: ignore[misc]
    assert repr(built) == repr(Decision(True, 10, 7, 1.5, 0.0))


@pytest.mark.parametrize("bad", [0, -1])
def test_cost_below_one_is_a_programming_error(bad: int) -> None:
    with pytest.raises(ValueError, match="cost"):
        check_cost(bad)


@pytest.mark.parametrize("make", ALL)
def test_every_algorithm_satisfies_the_protocol(make: object) -> None:
    algorithm = make()  # type: ignore[operator]
    assert isinstance(algorithm, RateLimitAlgorithm)
    assert algorithm.limit == 4
    assert algorithm.full_reset_time > 0


@pytest.mark.parametrize("make", ALL)
def test_zero_and_negative_costs_are_refused_loudly(make: object) -> None:
    algorithm = make()  # type: ignore[operator]
    for cost in (0, -3):
        with pytest.raises(ValueError, match="cost"):
            algorithm.acquire(0.0, cost)
        with pytest.raises(ValueError, match="cost"):
            algorithm.peek(0.0, cost)
    assert algorithm.peek(0.0).remaining == 4  # nothing was minted or charged


@pytest.mark.parametrize("make", ALL)
def test_a_cost_above_capacity_never_passes(make: object) -> None:
    algorithm = make()  # type: ignore[operator]
    for now in (0.0, 100.0):
        refused = algorithm.acquire(now, 5)
        assert not refused.allowed
        assert refused.retry_after == math.inf
        assert refused.remaining == 4
        assert not algorithm.peek(now, 5).allowed
    assert algorithm.acquire(100.0, 4).allowed  # the refusals charged nothing


@pytest.mark.parametrize("make", ALL)
def test_peek_charges_nothing(make: object) -> None:
    algorithm = make()  # type: ignore[operator]
    for _ in range(10):
        seen = algorithm.peek(0.0, 4)
        assert seen.allowed
        assert seen.remaining == 4
        assert seen.reset_after == 0.0
    assert algorithm.acquire(0.0, 4).allowed


@pytest.mark.parametrize("make", ALL)
def test_peek_foretells_acquire(make: object) -> None:
    algorithm = make()  # type: ignore[operator]
    algorithm.acquire(0.0, 3)
    for now, cost in [(0.1, 1), (0.2, 2), (0.2, 1), (0.3, 1), (1.7, 2), (2.5, 4)]:
        foretold = algorithm.peek(now, cost)
        actual = algorithm.acquire(now, cost)
        assert foretold.allowed == actual.allowed
        if not actual.allowed:
            assert foretold == actual
        assert foretold.retry_after == pytest.approx(actual.retry_after)
