from __future__ import annotations

import math

import pytest

from meshkit import _validate as v
from meshkit.errors import ConfigError


def test_messages_name_option_value_and_range() -> None:
    with pytest.raises(ConfigError, match=r"threshold must be between 0 and 1, got 1.5"):
        v.between("threshold", 1.5, 0, 1)
    with pytest.raises(ConfigError, match=r"rate must be > 0, got -1"):
        v.positive("rate", -1)
    with pytest.raises(ConfigError, match=r"min_delay \(5\) must not exceed max_delay \(1\)"):
        v.not_above("min_delay", 5, "max_delay", 1)
    with pytest.raises(ConfigError, match=r"kind must be one of 'a', 'b'; got 'c'"):
        v.one_of("kind", "c", ("a", "b"))


@pytest.mark.parametrize("bad", [math.nan, "1", True, None])
def test_non_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(ConfigError, match="must be a number"):
        v.positive("x", bad)  # type: ignore[arg-type]


def test_good_values_pass() -> None:
    v.positive("x", math.inf)
    v.at_least("x", 0, 0)
    v.greater_than("x", 1, 0)


@pytest.mark.parametrize("bad", [1.0, True, "3", None])
def test_integer_wants_an_int_and_not_a_bool(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"count must be an integer"):
        v.integer("count", bad)


@pytest.mark.parametrize(
    ("value", "low", "high", "message"),
    [
        (0, 1, None, r"count must be >= 1, got 0"),
        (11, 1, 10, r"count must be between 1 and 10, got 11"),
        (11, None, 10, r"count must be <= 10, got 11"),
    ],
)
def test_integer_bounds(value: int, low: int | None, high: int | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        v.integer("count", value, low, high)
    v.integer("count", 5, low, high)


def test_finite_rejects_infinity() -> None:
    with pytest.raises(ConfigError, match=r"window must be finite, got inf"):
        v.finite("window", math.inf)
    with pytest.raises(ConfigError, match=r"window must be finite, got inf"):
        v.finite_positive("window", math.inf)
    with pytest.raises(ConfigError, match=r"window must be > 0"):
        v.finite_positive("window", 0)
    v.finite_positive("window", 2.5)


def test_instance_of_and_callable_name_the_option_and_type() -> None:
    with pytest.raises(ConfigError, match=r"retry_on must be an OutcomeFilter, got 3"):
        v.instance_of("retry_on", 3, type("OutcomeFilter", (), {}))
    with pytest.raises(ConfigError, match=r"budget must be a RetryBudget, got 'x'"):
        v.instance_of("budget", "x", type("RetryBudget", (), {}))
    with pytest.raises(ConfigError, match=r"key must be callable, got 1"):
        v.callable_or_none("key", 1)
    v.callable_or_none("key", None)
    v.callable_or_none("key", len)


@pytest.mark.parametrize("bad", [1.0, True, "3", None])
def test_integer_refuses_floats_flags_and_text(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"x must be an integer, got") as info:
        v.integer("x", bad)
    assert info.value.option == "x"


def test_finite_refuses_infinity_and_nan() -> None:
    v.finite("x", 1e300)
    with pytest.raises(ConfigError, match=r"window must be finite, got inf"):
        v.finite("window", math.inf)
    with pytest.raises(ConfigError, match="must be a number"):
        v.finite("window", math.nan)
