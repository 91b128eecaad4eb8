from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.errors import ConfigError
from meshkit.ratelimit import (
    Decision,
    KeyedLimiter,
    KeyedLimiterStats,
    Rate,
    RateLimitOptions,
    TokenBucket,
)


def buckets(rate: float = 1.0, burst: int = 1, **kw: object) -> KeyedLimiter:
    return KeyedLimiter(lambda: TokenBucket(rate=rate, burst=burst), **kw)  # type: ignore[arg-type]


def test_each_key_has_its_own_limit() -> None:
    limiter = buckets(burst=2)
    assert limiter.acquire("alice", 0.0, 2).allowed
    assert not limiter.acquire("alice", 0.0).allowed
    assert limiter.acquire("bob", 0.0) == Decision(True, 2, 1, 1.0, 0.0)
    assert limiter.acquire(("10.0.0.1", 443), 0.0).allowed  # any hashable key
    assert limiter.stats == KeyedLimiterStats(allowed=3, rejected=1, keys=3, evicted=0, expired=0)


def test_least_recently_used_key_goes_first_when_full() -> None:
    limiter = buckets(max_keys=2, idle_after=100.0)
    limiter.acquire("a", 0.0)
    limiter.acquire("b", 0.1)
    limiter.acquire("a", 0.2)  # a is now the most recent
    limiter.acquire("c", 0.3)
    assert "b" not in limiter
    assert "a" in limiter
    assert "c" in limiter
    assert len(limiter) == 2
    assert limiter.stats.evicted == 1


def test_an_evicted_key_starts_afresh() -> None:
    limiter = buckets(max_keys=1)
    assert limiter.acquire("a", 0.0).allowed
    assert not limiter.acquire("a", 0.0).allowed
    limiter.acquire("b", 0.0)  # pushes "a" out while it still had state
    assert limiter.acquire("a", 0.0).allowed  # the price of bounded memory
    assert limiter.stats.evicted == 2


def test_pushing_out_an_idle_key_counts_as_expiry_not_eviction() -> None:
    limiter = buckets(max_keys=1)  # idle_after = burst / rate = 1 s
    limiter.acquire("a", 0.0)
    limiter.acquire("b", 5.0)
    assert limiter.stats.evicted == 0
    assert limiter.stats.expired == 1


def test_idle_keys_are_swept_a_little_at_a_time() -> None:
    limiter = buckets()  # idle_after = 1 s
    assert limiter.idle_after == 1.0
    for n in range(100):
        limiter.acquire(n, 0.0)
    for _ in range(15):
        limiter.acquire("busy", 0.5)  # not idle long enough yet: the sweep keeps everyone
    limiter.acquire("busy", 0.5)
    assert len(limiter) == 101
    swept: list[int] = []
    for _ in range(4 * 16):
        before = len(limiter)
        limiter.acquire("busy", 2.0)
        swept.append(before - len(limiter))
    assert max(swept) == 32  # one bounded batch per sweep, never the whole table
    assert swept.count(0) == 4 * 16 - 4
    assert len(limiter) == 1
    assert limiter.stats.expired == 100
    assert "busy" in limiter


def test_an_idle_key_is_kept_until_its_state_is_fresh() -> None:
    limiter = buckets(rate=1.0, burst=4)  # 4 s from empty to full
    limiter.acquire("slow", 0.0, 4)
    for _ in range(32):
        limiter.acquire("other", 3.9)
    assert "slow" in limiter
    assert not limiter.acquire("slow", 3.9, 4).allowed


def test_evict_idle_drops_every_idle_key() -> None:
    limiter = buckets()
    for n in range(50):
        limiter.acquire(n, float(n) / 100)
    assert limiter.evict_idle(1.25) == 26  # keys last used at or before 0.25
    assert len(limiter) == 24
    assert limiter.evict_idle(10.0) == 24
    assert limiter.stats.expired == 50


def test_peek_neither_creates_nor_refreshes_keys() -> None:
    limiter = buckets(burst=3, idle_after=1.0)
    assert limiter.peek("ghost", 0.0) == Decision(True, 3, 3, 0.0, 0.0)
    assert "ghost" not in limiter
    limiter.acquire("a", 0.0)
    assert limiter.peek("a", 0.0).remaining == 2
    assert limiter.evict_idle(1.0) == 1  # the peek did not count as a use
    assert limiter.stats.allowed == 1


def test_from_options_and_clear() -> None:
    limiter = KeyedLimiter.from_options(
        RateLimitOptions(rate=Rate.parse("2/minute"), algorithm="fixed_window", max_keys=7)
    )
    assert limiter.max_keys == 7
    assert limiter.idle_after == 60.0
    assert limiter.acquire("k", 0.0, 2).allowed
    assert not limiter.acquire("k", 1.0).allowed
    limiter.clear()
    assert len(limiter) == 0
    assert limiter.acquire("k", 1.0).allowed


@pytest.mark.parametrize(
    ("kwargs", "option"), [({"max_keys": 0}, "max_keys"), ({"idle_after": 0.0}, "idle_after")]
)
def test_keyed_options_are_checked(kwargs: dict[str, object], option: str) -> None:
    with pytest.raises(ConfigError) as info:
        buckets(**kwargs)  # type: ignore[arg-type]
    assert info.value.option == option


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        # (key, gap in 1/100 s, cost, sweep all first): few keys, so each comes back often
        st.tuples(st.integers(0, 3), st.integers(0, 200), st.integers(1, 3), st.booleans()),
        max_size=150,
    )
)
def test_dropping_idle_keys_changes_no_decision(
    steps: list[tuple[int, int, int, bool]],
) -> None:
    """With room for every key, a keyed limiter answers exactly like one that never forgets,
    however often idle keys are swept."""
    limiter = buckets(rate=2.0, burst=3)
    reference: dict[int, TokenBucket] = {}
    now = 0.0
    for key, gap, cost, sweep in steps:
        now += gap / 100
        if sweep:
            limiter.evict_idle(now)
        expected = reference.setdefault(key, TokenBucket(rate=2.0, burst=3)).acquire(now, cost)
        assert limiter.acquire(key, now, cost) == expected
