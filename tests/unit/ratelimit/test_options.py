from __future__ import annotations

import math

import pytest

from meshkit.errors import ConfigError
from meshkit.ratelimit import (
    GCRA,
    FixedWindow,
    Rate,
    RateLimitOptions,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
    algorithm_factory,
    build_algorithm,
)


@pytest.mark.parametrize(
    ("text", "limit", "seconds"),
    [
        ("100/minute", 100, 60.0),
        ("10/s", 10, 1.0),
        ("10/second", 10, 1.0),
        ("7/Hours", 7, 3600.0),
        ("1000/day", 1000, 86400.0),
        ("5/30s", 5, 30.0),
        ("5 / 30 sec", 5, 30.0),
        ("1000/1.5 hours", 1000, 5400.0),
        ("3/2.5", 3, 2.5),
        ("100 per minute", 100, 60.0),
        ("  2/m  ", 2, 60.0),
    ],
)
def test_rate_parse_understands_common_spellings(text: str, limit: int, seconds: float) -> None:
    rate = Rate.parse(text)
    assert rate.limit == limit
    assert rate.seconds == seconds
    assert rate.per_second == pytest.approx(limit / seconds)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "100",
        "minute",
        "100/",
        "/minute",
        "-5/minute",
        "1.5/minute",
        "10/fortnight",
        "10/0s",
        "0/minute",
        "10/minute/extra",
        "ten/minute",
        100,
    ],
)
def test_rate_parse_rejects_junk_with_a_config_error(junk: str) -> None:
    with pytest.raises(ConfigError) as info:
        Rate.parse(junk)
    assert info.value.option in {"rate", "period", "limit"}


def test_rate_text_round_trips() -> None:
    for text in ("100/minute", "5/30s", "3/2.5s", "1/day"):
        assert str(Rate.parse(text)) == text
    for period in (0.1, 1 / 3, 1e-5, 1e6, 2.5e20):
        rate = Rate(limit=7, period=period)
        assert Rate.parse(str(rate)) == rate
    assert Rate.parse("100/minute") == Rate(limit=100, period="minute")


@pytest.mark.parametrize(
    ("limit", "period", "option"),
    [
        (0, "second", "limit"),
        (1.5, "second", "limit"),
        (True, "second", "limit"),
        (1, "week", "period"),
        (1, 0.0, "period"),
        (1, -2.0, "period"),
        (1, math.inf, "period"),
    ],
)
def test_rate_fields_are_checked(limit: int, period: float, option: str) -> None:
    with pytest.raises(ConfigError) as info:
        Rate(limit=limit, period=period)
    assert info.value.option == option


def test_options_defaults_and_capacity() -> None:
    options = RateLimitOptions(rate=Rate.parse("120/minute"))
    assert options.algorithm == "token_bucket"
    assert options.capacity == 120
    assert options.max_wait == 0.0
    assert options.key is None
    assert RateLimitOptions(rate=Rate(limit=2), burst=7).capacity == 7


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"rate": "100/minute"}, "rate"),
        ({"algorithm": "leaky"}, "algorithm"),
        ({"burst": 0}, "burst"),
        ({"burst": 2.5}, "burst"),
        ({"algorithm": "fixed_window", "burst": 5}, "burst"),
        ({"max_wait": -1.0}, "max_wait"),
        ({"max_wait": math.nan}, "max_wait"),
        ({"key": "user"}, "key"),
        ({"max_keys": 0}, "max_keys"),
    ],
)
def test_options_are_checked(kwargs: dict[str, object], option: str) -> None:
    full: dict[str, object] = {"rate": Rate(limit=10), **kwargs}
    with pytest.raises(ConfigError) as info:
        RateLimitOptions(**full)  # type: ignore[arg-type]
    assert info.value.option == option


@pytest.mark.parametrize(
    ("algorithm", "cls"),
    [("token_bucket", TokenBucket), ("gcra", GCRA)],
)
def test_factory_builds_buckets_refilling_limit_per_period(algorithm: str, cls: type) -> None:
    options = RateLimitOptions(rate=Rate.parse("30/minute"), algorithm=algorithm, burst=5)  # type: ignore[arg-type]
    bucket = build_algorithm(options)
    assert type(bucket) is cls
    assert bucket.rate == 0.5  # type: ignore[attr-defined]
    assert bucket.limit == 5
    assert bucket.acquire(0.0, 5).allowed
    assert bucket.acquire(0.0).retry_after == 2.0


@pytest.mark.parametrize(
    ("algorithm", "cls"),
    [
        ("sliding_log", SlidingWindowLog),
        ("sliding_window", SlidingWindowCounter),
        ("fixed_window", FixedWindow),
    ],
)
def test_factory_builds_windows_of_one_period(algorithm: str, cls: type) -> None:
    options = RateLimitOptions(rate=Rate.parse("30/minute"), algorithm=algorithm)  # type: ignore[arg-type]
    window = build_algorithm(options)
    assert type(window) is cls
    assert window.limit == 30
    assert window.window == 60.0  # type: ignore[attr-defined]


def test_factory_makes_independent_instances() -> None:
    make = algorithm_factory(RateLimitOptions(rate=Rate(limit=1)))
    first, second = make(), make()
    assert first is not second
    assert first.acquire(0.0).allowed
    assert second.acquire(0.0).allowed
