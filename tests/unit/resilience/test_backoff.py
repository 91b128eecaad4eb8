from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshkit.errors import ConfigError
from meshkit.resilience.backoff import BACKOFF_KINDS, Backoff


def test_exponential_doubles_up_to_the_cap() -> None:
    assert Backoff(kind="exponential", base=0.1, max_delay=1.0).delays(5) == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0]
    )


def test_linear_and_constant() -> None:
    assert Backoff(kind="linear", base=1.0, max_delay=3.5).delays(5) == [1, 2, 3, 3.5, 3.5]
    assert Backoff(kind="constant", base=0.5).delays(3) == [0.5, 0.5, 0.5]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert Backoff(kind="exponential", base=1, max_delay=30).delay(10_000) == 30


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"kind": "fibonacci"}, "kind"),
        ({"base": -1}, "base"),
        ({"max_delay": 0}, "max_delay"),
        ({"base": 5, "max_delay": 1}, "base"),
        ({"kind": "exponential", "multiplier": 0.5}, "multiplier"),
    ],
)
def test_invalid_backoff_names_the_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Backoff(**options)  # type: ignore[arg-type]


@given(
    kind=st.sampled_from(BACKOFF_KINDS),
    base=st.floats(0.0, 5.0),
    extra=st.floats(0.0, 100.0),
    multiplier=st.one_of(st.none(), st.floats(1.0, 10.0)),
    count=st.integers(1, 40),
    seed=st.integers(0, 2**32),
)
def test_every_delay_stays_within_the_documented_bounds(
    *, kind: str, base: float, extra: float, multiplier: float | None, count: int, seed: int
) -> None:
    max_delay = max(base + extra, 1e-3)
    backoff = Backoff(kind=kind, base=base, max_delay=max_delay, multiplier=multiplier)  # type: ignore[arg-type]
    low, high = backoff.bounds
    for delay in backoff.delays(count, random.Random(seed)):
        assert low - 1e-9 <= delay <= high + 1e-9
