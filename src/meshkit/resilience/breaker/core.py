"""The breaker's sliding windows: the last N calls, or the calls of the last T seconds.

Each recorded call is a code: bit 0 = failed, bit 1 = slow. Both windows keep running totals
(calls, failures, slow calls), so recording is O(1) and reading the rates is a division:

* ``CountWindow`` is a ring of the last ``size`` codes; writing a slot first subtracts the
  code it overwrites.
* ``TimeWindow`` cuts ``seconds`` into ``buckets`` slices (like resilience4j's time-based
  window); a slice number is ``now // width``. When it changes, the slices that slid out are
  subtracted and cleared, at most ``buckets`` of them however long the pause was. The window
  covers the current slice plus the ``buckets - 1`` before it.
"""

from __future__ import annotations

__all__ = ["FAILED", "SLOW", "CountWindow", "TimeWindow", "Window"]

FAILED = 1
SLOW = 2


class CountWindow:
    __slots__ = ("_index", "_ring", "_size", "calls", "failures", "slow")

    def __init__(self, size: int) -> None:
        self._size = size
        self._ring = bytearray(size)
        self._index = 0
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def record(self, code: int, now: float) -> None:
        index = self._index
        if self.calls == self._size:
            old = self._ring[index]
            if old:
                self.failures -= old & FAILED
                self.slow -= old >> 1
        else:
            self.calls += 1
        if code:
            self._ring[index] = code
            self.failures += code & FAILED
            self.slow += code >> 1
        else:
            self._ring[index] = 0
        index += 1
        self._index = 0 if index == self._size else index

    def refresh(self, now: float) -> None:
        """Count windows do not age."""

    def reset(self) -> None:
        self._ring = bytearray(self._size)
        self._index = self.calls = self.failures = self.slow = 0


class TimeWindow:
    __slots__ = (
        "_calls",
        "_epoch",
        "_failures",
        "_n",
        "_slot",
        "_slow",
        "_width",
        "calls",
        "failures",
        "slow",
    )

    def __init__(self, seconds: float, buckets: int, now: float) -> None:
        self._n = buckets
        self._width = seconds / buckets
        self._calls = [0] * buckets
        self._failures = [0] * buckets
        self._slow = [0] * buckets
        self._epoch = now // self._width
        self._slot = int(self._epoch) % buckets
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def record(self, code: int, now: float) -> None:
        if now // self._width != self._epoch:
            self.refresh(now)
        slot = self._slot
        self._calls[slot] += 1
        self.calls += 1
        if code:
            failed = code & FAILED
            slow = code >> 1
            self._failures[slot] += failed
            self._slow[slot] += slow
            self.failures += failed
            self.slow += slow

    def refresh(self, now: float) -> None:
        """Drop the slices that slid out of the window by ``now``."""
        epoch = now // self._width
        steps = epoch - self._epoch
        if steps <= 0:
            return
        n = self._n
        slot = self._slot
        for _ in range(int(min(steps, n))):
            slot = (slot + 1) % n
            self.calls -= self._calls[slot]
            self.failures -= self._failures[slot]
            self.slow -= self._slow[slot]
            self._calls[slot] = self._failures[slot] = self._slow[slot] = 0
        self._epoch = epoch
        self._slot = int(epoch) % n

    def reset(self) -> None:
        n = self._n
        self._calls, self._failures, self._slow = [0] * n, [0] * n, [0] * n
        self.calls = self.failures = self.slow = 0


Window = CountWindow | TimeWindow
