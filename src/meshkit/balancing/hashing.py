"""Consistent hashing on a request key: ring hash (Karger) and Maglev (Google, NSDI 2016).

Both send equal keys to the same endpoint while the set is unchanged, and move few keys when
it changes, so per-key state (caches, sessions) survives scaling. Hashes are 64-bit BLAKE2b,
the same in every process and on every node (Python's ``hash()`` is salted per process).

* ``RingHash`` places ``replicas x weight / 100`` points per endpoint on a 64-bit ring (100
  is the default weight; 1024 replicas keep an endpoint's share within a few per cent of
  fair), named after the endpoint alone, so an endpoint's points do not move when others come
  or go (beyond ``max_points`` in all, each endpoint gets proportionally fewer). A key goes
  to the first point at or after its hash. An index by the top 16 bits of the hash narrows
  each search to the points of one 1/65536 slice of the ring, so a pick costs about the same
  at 10 endpoints and 10,000. When one of N endpoints leaves, only its keys move (about 1/N).
* ``Maglev`` fills a lookup table of prime size ``table_size`` by letting endpoints take turns
  claiming slots from their own permutation (offset and skip from two hashes of the id),
  weighted endpoints taking more turns. Pick: one hash and one list index, O(1). Slightly more
  than 1/N of keys move when an endpoint leaves, in exchange for a near-perfect spread. For
  good balance ``table_size`` should exceed 100 x the endpoints (65537 suits ~650).
"""

from __future__ import annotations

import array
import bisect
import hashlib
from collections.abc import Sequence

from meshkit import _validate
from meshkit.balancing.endpoint import Endpoint
from meshkit.errors import ConfigError

__all__ = ["Maglev", "RingHash", "hash64"]

_NO_KEY = b""
_DEFAULT_WEIGHT = 100
_SLICE_SHIFT = 48  # index the ring by the top 16 bits of a 64-bit hash
_SLICES = 1 << (64 - _SLICE_SHIFT)
_OWNER_BITS = 24  # up to 16 million endpoints
_OWNER_MASK = (1 << _OWNER_BITS) - 1


def hash64(data: bytes) -> int:
    """A stable 64-bit hash of ``data``."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class RingHash:
    """Consistent hashing on a ring of weighted virtual nodes."""

    __slots__ = ("_cache", "_endpoints", "_hashes", "_index", "_owners", "max_points", "replicas")
    name = "ring_hash"

    def __init__(self, *, replicas: int = 1024, max_points: int = 1 << 21) -> None:
        _validate.between("replicas", replicas, 1, 100_000)
        _validate.between("max_points", max_points, 1024, 1 << 26)
        self.replicas = replicas
        self.max_points = max_points
        self._endpoints: Sequence[Endpoint] = ()
        self._hashes = array.array("Q")
        self._owners = array.array("I")
        self._index: list[int] = [0] * (_SLICES + 1)
        self._cache: dict[tuple[str, int], list[int]] = {}

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None:
        self._endpoints = tuple(endpoints)
        if not endpoints:
            self._hashes, self._owners = array.array("Q"), array.array("I")
            self._index = [0] * (_SLICES + 1)
            return
        per_unit = self.replicas / _DEFAULT_WEIGHT
        # Past max_points every endpoint gets proportionally fewer points; floor() keeps the
        # counts unchanged when one endpoint of thousands comes or goes.
        scale = min(1.0, self.max_points / (per_unit * sum(weights)))
        cache: dict[tuple[str, int], list[int]] = {}
        points: list[int] = []
        for index, (endpoint, weight) in enumerate(zip(endpoints, weights, strict=True)):
            count = max(1, int(per_unit * weight * scale))
            key = (endpoint.id, count)
            hashes = self._cache.get(key)
            if hashes is None:
                prefix = endpoint.id.encode()
                hashes = [hash64(b"%s_%d" % (prefix, r)) for r in range(count)]
            cache[key] = hashes
            # One int per point (hash above, owner below) sorts in C, without tuples.
            points.extend([(h << _OWNER_BITS) | index for h in hashes])
        self._cache = cache  # only the current endpoints' points are kept
        points.sort()
        # Packed arrays: 8 + 4 bytes a point instead of object pointers and int objects, so a
        # 10,000-endpoint ring stays cache-friendly.
        self._hashes = array.array("Q", [p >> _OWNER_BITS for p in points])
        self._owners = array.array("I", [p & _OWNER_MASK for p in points])
        ring = self._hashes
        self._index = [bisect.bisect_left(ring, s << _SLICE_SHIFT) for s in range(_SLICES)]
        self._index.append(len(ring))

    def pick(self, key: bytes | None = None) -> Endpoint:
        hashed = hash64(key or _NO_KEY)
        first = hashed >> _SLICE_SHIFT
        index = self._index
        position = bisect.bisect_left(self._hashes, hashed, index[first], index[first + 1])
        if position == len(self._hashes):
            position = 0  # past the last point: wrap around the ring
        return self._endpoints[self._owners[position]]


class Maglev:
    """Consistent hashing through a Maglev lookup table."""

    __slots__ = ("_endpoints", "_table", "table_size")
    name = "maglev"

    def __init__(self, *, table_size: int = 65537) -> None:
        _validate.integer("table_size", table_size)
        if table_size < 7 or not _is_prime(table_size):
            raise ConfigError(
                f"table_size must be a prime >= 7 (e.g. 65537), got {table_size}",
                option="table_size",
            )
        self.table_size = table_size
        self._endpoints: Sequence[Endpoint] = ()
        self._table = array.array("I")

    def rebuild(self, endpoints: Sequence[Endpoint], weights: Sequence[float]) -> None:
        self._endpoints = tuple(endpoints)
        table = _populate(endpoints, weights, self.table_size) if endpoints else []
        self._table = array.array("I", table)  # packed: one cache line holds 16 slots

    def pick(self, key: bytes | None = None) -> Endpoint:
        return self._endpoints[self._table[hash64(key or _NO_KEY) % self.table_size]]


def _populate(endpoints: Sequence[Endpoint], weights: Sequence[float], size: int) -> list[int]:
    """The Maglev table: endpoints claim slots in turn, each along its own permutation.

    Weighted turns (as in Envoy): in round r an endpoint claims a slot only while its claims
    stay within ``r x weight / max_weight``, so claims end up proportional to weight.
    """
    offsets, skips = [], []
    for endpoint in endpoints:
        digest = hashlib.blake2b(endpoint.id.encode(), digest_size=16).digest()
        offsets.append(int.from_bytes(digest[:8], "little") % size)
        skips.append(int.from_bytes(digest[8:], "little") % (size - 1) + 1)
    heaviest = max(weights)
    shares = [w / heaviest for w in weights]
    table = [-1] * size
    position = [0] * len(endpoints)  # how far along its permutation each endpoint is
    claimed = [0] * len(endpoints)
    filled = 0
    turn = 0
    while True:
        turn += 1
        for index in range(len(endpoints)):
            if claimed[index] >= turn * shares[index]:
                continue  # a lighter endpoint sits this turn out
            offset, skip, step = offsets[index], skips[index], position[index]
            slot = (offset + step * skip) % size
            while table[slot] >= 0:
                step += 1
                slot = (offset + step * skip) % size
            table[slot] = index
            position[index] = step + 1
            claimed[index] += 1
            filled += 1
            if filled == size:
                return table


def _is_prime(n: int) -> bool:
    if n % 2 == 0:
        return n == 2
    factor = 3
    while factor * factor <= n:
        if n % factor == 0:
            return False
        factor += 2
    return True
