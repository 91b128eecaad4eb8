"""The fallback's memory: the last good result per key, bounded, aged on an injected clock.

Pure bookkeeping (no awaiting, no calling): the wrapper in ``policy`` decides when to
remember and when to answer from here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from meshkit.resilience.fallback.options import MISSING

__all__ = ["LastGood"]


class LastGood:
    """The last good result per key, the ``max_keys`` most recently used kept.

    A lock guards it because ``execute_sync`` may run on many threads at once, and an
    ``OrderedDict`` changed by two of them between a lookup and a reorder raises.
    """

    __slots__ = ("_entries", "_lock", "_max_keys")

    def __init__(self, max_keys: int) -> None:
        self._entries: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def put(self, key: Hashable, value: Any, stamp: float) -> None:
        entries = self._entries
        with self._lock:
            entries[key] = (value, stamp)
            entries.move_to_end(key)
            if len(entries) > self._max_keys:
                entries.popitem(last=False)

    def get(self, key: Hashable, oldest: float) -> Any:
        """``key``'s value if stamped at ``oldest`` or later, else ``MISSING``."""
        entries = self._entries
        with self._lock:
            entry = entries.get(key)
            if entry is None:
                return MISSING
            value, stamp = entry
            if stamp < oldest:
                del entries[key]  # too old to answer now, and older still later
                return MISSING
            entries.move_to_end(key)
            return value
