"""One rate limit per key (service, user, IP, ...), in bounded memory.

Theory of operation
-------------------
Each key gets its own algorithm instance, made by a factory on the key's first request and
kept in an ``OrderedDict`` in least-recently-used order (``move_to_end`` on every request).
Two rules keep memory bounded without ever scanning the whole table on a request:

* **capacity** — past ``max_keys`` entries, the least recently used key is dropped. Its state
  is lost: if it comes back it starts afresh, which may admit it early. A busy key is never
  the least recently used, so in practice this only drops keys nobody is using.
* **idleness** — a key unused for ``idle_after`` seconds (by default the algorithm's
  ``full_reset_time``: a full bucket, empty windows) is in exactly the state a new instance
  would have, so dropping it changes no decision. Because the table is in last-use order, the
  idle keys are all at its head: every ``_SWEEP_EVERY`` requests, up to ``_SWEEP_BATCH`` of
  them are dropped from there. That is amortised ``O(1)`` per request and, since the sweep
  removes keys faster than requests can add them, the idle ones never pile up.

``now`` must not decrease between calls (it comes from one monotonic clock).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from meshkit import _validate
from meshkit.ratelimit._decision import Decision
from meshkit.ratelimit.algorithm import RateLimitAlgorithm
from meshkit.ratelimit.options import DEFAULT_MAX_KEYS, RateLimitOptions, algorithm_factory

__all__ = ["KeyedLimiter", "KeyedLimiterStats"]

_SWEEP_EVERY = 16
"""Requests between two incremental sweeps for idle keys."""
_SWEEP_BATCH = 32
"""Most idle keys dropped by one sweep: twice the keys ``_SWEEP_EVERY`` requests can add."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyedLimiterStats:
    """Counters since construction: requests ``allowed`` and ``rejected``; ``keys`` held now;
    keys ``evicted`` by the ``max_keys`` cap (their state was lost) and ``expired`` after
    idling (their state was already back to new)."""

    allowed: int
    rejected: int
    keys: int
    evicted: int
    expired: int


class _Entry:
    __slots__ = ("algorithm", "last_used")

    def __init__(self, algorithm: RateLimitAlgorithm, last_used: float) -> None:
        self.algorithm = algorithm
        self.last_used = last_used


class KeyedLimiter:
    """A rate limit per key: ``acquire(key, now, cost)`` decides for that key alone."""

    __slots__ = (
        "_allowed",
        "_entries",
        "_evicted",
        "_expired",
        "_factory",
        "_idle_after",
        "_max_keys",
        "_pristine",
        "_rejected",
        "_until_sweep",
        "admits",
    )

    def __init__(
        self,
        factory: Callable[[], RateLimitAlgorithm],
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        idle_after: float | None = None,
    ) -> None:
        _validate.integer("max_keys", max_keys, 1)
        self._factory = factory
        # Never charged: answers peeks for unknown keys and tells how long a reset takes.
        self._pristine = factory()
        # whether the keys' algorithm answers admit() (the token bucket and GCRA)
        self.admits = callable(getattr(self._pristine, "admit", None))
        if idle_after is None:
            idle_after = self._pristine.full_reset_time
        _validate.positive("idle_after", idle_after)
        self._idle_after = idle_after
        self._max_keys = max_keys
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._allowed = 0
        self._rejected = 0
        self._evicted = 0
        self._expired = 0
        self._until_sweep = _SWEEP_EVERY

    @classmethod
    def from_options(cls, options: RateLimitOptions) -> KeyedLimiter:
        """A keyed limiter whose keys each get the algorithm ``options`` describe."""
        return cls(algorithm_factory(options), max_keys=options.max_keys)

    @property
    def max_keys(self) -> int:
        return self._max_keys

    @property
    def idle_after(self) -> float:
        return self._idle_after

    @property
    def stats(self) -> KeyedLimiterStats:
        return KeyedLimiterStats(
            allowed=self._allowed,
            rejected=self._rejected,
            keys=len(self._entries),
            evicted=self._evicted,
            expired=self._expired,
        )

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def acquire(self, key: Hashable, now: float, cost: int = 1) -> Decision:
        """Charge ``cost`` units to ``key`` at ``now`` if they fit; say so either way."""
        result = self._entry(key, now).algorithm.acquire(now, cost)
        self._count(result.allowed, now)
        return result

    def admit(self, key: Hashable, now: float, cost: int = 1) -> bool:
        """``acquire(key, now, cost).allowed`` without building the decision (see
        :attr:`admits`); :meth:`peek` at the same ``now`` explains a refusal."""
        allowed: bool = self._entry(key, now).algorithm.admit(now, cost)  # type: ignore[attr-defined]
        self._count(allowed, now)
        return allowed

    def _entry(self, key: Hashable, now: float) -> _Entry:
        entries = self._entries
        entry = entries.get(key)
        if entry is None:
            return self._add(key, now)
        entries.move_to_end(key)
        entry.last_used = now
        return entry

    def _count(self, allowed: bool, now: float) -> None:
        if allowed:
            self._allowed += 1
        else:
            self._rejected += 1
        self._until_sweep -= 1
        if not self._until_sweep:
            self._until_sweep = _SWEEP_EVERY
            self._drop_idle(now, _SWEEP_BATCH)

    def peek(self, key: Hashable, now: float, cost: int = 1) -> Decision:
        """What ``acquire`` would answer for ``key``; charges nothing, creates no entry, and
        does not count as a use (it does not keep the key alive)."""
        entry = self._entries.get(key)
        algorithm = self._pristine if entry is None else entry.algorithm
        return algorithm.peek(now, cost)

    def evict_idle(self, now: float) -> int:
        """Drop every key idle for ``idle_after`` seconds now (for a periodic maintenance
        task; requests already do this a little at a time). Returns how many were dropped."""
        return self._drop_idle(now, len(self._entries))

    def clear(self) -> None:
        """Forget every key (counters are kept)."""
        self._entries.clear()

    def _add(self, key: Hashable, now: float) -> _Entry:
        entries = self._entries
        entry = entries[key] = _Entry(self._factory(), now)
        if len(entries) > self._max_keys:
            _, oldest = entries.popitem(last=False)
            if oldest.last_used <= now - self._idle_after:
                self._expired += 1
            else:
                self._evicted += 1
        return entry

    def _drop_idle(self, now: float, at_most: int) -> int:
        entries = self._entries
        idle_before = now - self._idle_after
        dropped = 0
        while dropped < at_most and entries:
            if next(iter(entries.values())).last_used > idle_before:
                break
            entries.popitem(last=False)
            dropped += 1
        self._expired += dropped
        return dropped

    def __repr__(self) -> str:
        return (
            f"KeyedLimiter({self._pristine!r}, keys={len(self._entries)}, "
            f"max_keys={self._max_keys})"
        )
