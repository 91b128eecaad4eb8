"""Token bucket and GCRA: every expectation holds for both (they admit the same traffic)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from meshkit.errors import ConfigError
from meshkit.ratelimit import GCRA, Decision, TokenBucket

Bucket = TokenBucket | GCRA
MAKERS: list[Callable[[float, int], Bucket]] = [
    lambda rate, burst: TokenBucket(rate=rate, burst=burst),
    lambda rate, burst: GCRA(rate=rate, burst=burst),
]
both = pytest.mark.parametrize("make", MAKERS, ids=["token_bucket", "gcra"])


@both
def test_a_new_bucket_admits_a_burst_then_refuses(make: Callable[[float, int], Bucket]) -> None:
    bucket = make(2.0, 3)
    assert bucket.acquire(0.0) == Decision(True, 3, 2, 0.5, 0.0)
    assert bucket.acquire(0.0) == Decision(True, 3, 1, 1.0, 0.0)
    assert bucket.acquire(0.0) == Decision(True, 3, 0, 1.5, 0.0)
    assert bucket.acquire(0.0) == Decision(False, 3, 0, 1.5, 0.5)


@both
def test_refills_at_rate_and_caps_at_burst(make: Callable[[float, int], Bucket]) -> None:
    bucket = make(2.0, 3)
    assert bucket.acquire(0.0, 3).allowed
    assert not bucket.acquire(0.25).allowed  # half a token
    assert bucket.acquire(0.5) == Decision(True, 3, 0, 1.5, 0.0)  # exactly one token
    assert bucket.peek(100.0) == Decision(True, 3, 3, 0.0, 0.0)  # never more than burst
    assert bucket.acquire(100.0, 3).allowed
    assert not bucket.acquire(100.0).allowed


@both
def test_weighted_cost_and_its_retry_after(make: Callable[[float, int], Bucket]) -> None:
    bucket = make(1.0, 4)
    assert bucket.acquire(0.0, 3) == Decision(True, 4, 1, 3.0, 0.0)
    refused = bucket.acquire(0.5, 3)  # 1.5 tokens there, 3 wanted
    assert refused == Decision(False, 4, 1, 2.5, 1.5)
    assert not bucket.acquire(1.999, 3).allowed
    assert bucket.acquire(2.0, 3) == Decision(True, 4, 0, 4.0, 0.0)


@both
def test_retry_after_is_honest(make: Callable[[float, int], Bucket]) -> None:
    bucket = make(3.0, 2)
    bucket.acquire(0.0, 2)
    refused = bucket.acquire(0.1, 2)
    assert refused.retry_after == pytest.approx(2 / 3 - 0.1)
    assert bucket.acquire(0.1 + refused.retry_after, 2).allowed


@both
def test_a_refill_that_is_whole_but_for_float_dust_passes(
    make: Callable[[float, int], Bucket],
) -> None:
    bucket = make(10.0, 1)
    assert bucket.acquire(0.2).allowed
    # 0.3 - 0.2 == 0.09999999999999998: a hair short of one token at 10/s
    assert bucket.acquire(0.3).allowed
    assert not bucket.acquire(0.3).allowed


@both
def test_a_clock_step_back_mints_nothing(make: Callable[[float, int], Bucket]) -> None:
    bucket = make(1.0, 2)
    assert bucket.acquire(10.0, 2).allowed
    assert not bucket.acquire(5.0).allowed
    assert not bucket.acquire(10.5).allowed
    assert bucket.acquire(11.0).allowed


@both
def test_peek_reports_the_level_without_charging(make: Callable[[float, int], Bucket]) -> None:
    bucket = make(2.0, 4)
    bucket.acquire(0.0, 3)
    assert bucket.peek(0.0) == Decision(True, 4, 1, 1.5, 0.0)
    assert bucket.peek(0.0, 2) == Decision(False, 4, 1, 1.5, 0.5)
    assert bucket.peek(0.5, 2) == Decision(True, 4, 2, 1.0, 0.0)
    assert bucket.acquire(0.5, 2) == Decision(True, 4, 0, 2.0, 0.0)


@both
def test_full_reset_time_is_burst_over_rate(make: Callable[[float, int], Bucket]) -> None:
    bucket = make(4.0, 10)
    assert bucket.full_reset_time == 2.5
    assert bucket.limit == bucket.burst == 10
    assert bucket.rate == 4.0
    bucket.acquire(1.0, 10)
    assert bucket.acquire(1.0).reset_after == 2.5
    assert bucket.peek(3.5) == Decision(True, 10, 10, 0.0, 0.0)


def test_gcra_schedule_parameters() -> None:
    gcra = GCRA(rate=4.0, burst=10)
    assert gcra.emission_interval == 0.25
    assert gcra.tolerance == 2.5
    assert repr(gcra) == "GCRA(rate=4.0, burst=10)"
    assert repr(TokenBucket(rate=4, burst=10)) == "TokenBucket(rate=4.0, burst=10)"


@both
@pytest.mark.parametrize("rate", [0, -1.0, math.inf, math.nan, True])
def test_rate_must_be_positive_and_finite(
    make: Callable[[float, int], Bucket], rate: float
) -> None:
    with pytest.raises(ConfigError, match="rate") as info:
        make(rate, 1)
    assert info.value.option == "rate"


@both
@pytest.mark.parametrize("burst", [0, -1, 1.5, True])
def test_burst_must_be_a_whole_number_of_units(
    make: Callable[[float, int], Bucket], burst: int
) -> None:
    with pytest.raises(ConfigError, match="burst") as info:
        make(1.0, burst)
    assert info.value.option == "burst"
