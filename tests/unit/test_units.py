from __future__ import annotations

import pytest

from meshkit._units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(2, 2), (0.5, 0.5), ("250ms", 0.25), ("2s", 2.0), ("1.5m", 90.0), ("1h", 3600.0),
     ("3", 3.0), (" 2 s ", 2.0)],
)  # fmt: skip
def test_durations(given: object, seconds: float) -> None:
    assert parse_duration(given) == seconds


@pytest.mark.parametrize(
    ("given", "size"),
    [(1024, 1024), ("512B", 512), ("64KiB", 65536), ("10MiB", 10 << 20), ("1GiB", 1 << 30),
     ("10MB", 10_000_000), ("0.5KiB", 512), ("2KB", 2000)],
)  # fmt: skip
def test_sizes(given: object, size: int) -> None:
    assert parse_size(given) == size


@pytest.mark.parametrize("given", ["2 weeks", "s", "-1s", "2M", "", True])
def test_a_duration_that_is_not_one_says_what_is_allowed(given: object) -> None:
    with pytest.raises(ValueError, match="a number of seconds, or a number with a unit: 250ms"):
        parse_duration(given)


@pytest.mark.parametrize("given", ["10 megs", "10mib", "KiB", False])
def test_a_size_that_is_not_one_says_what_is_allowed(given: object) -> None:
    with pytest.raises(ValueError, match="a number of bytes, or a number with a unit: 512B"):
        parse_size(given)
    with pytest.raises(ValueError, match="a whole number of bytes"):
        parse_size("1.5B")
