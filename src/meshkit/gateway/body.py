"""A body in transit: chunks from one connection, consumed by the other, with back-pressure.

The producer (a protocol's ``data_received``) calls :meth:`feed`; when more than
``high_water`` bytes wait, it pauses the producing transport's reading, and the consumer's
reads resume it once the buffer falls under ``low_water``. So a 1 GB upload or download
holds at most about ``high_water`` bytes in the gateway whatever the speeds on either side.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["BodyStream"]

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class BodyStream:
    """Chunks of one message body; ``async for chunk in body`` until the end."""

    __slots__ = ("_buffered", "_chunks", "_done", "_error", "_pause", "_paused", "_resume", "_wake")

    def __init__(
        self,
        pause: Callable[[], None] | None = None,
        resume: Callable[[], None] | None = None,
    ) -> None:
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self._wake: asyncio.Future[None] | None = None
        self._pause = pause
        self._resume = resume
        self._paused = False

    @property
    def done(self) -> bool:
        return self._done and not self._chunks

    def feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > _HIGH_WATER and not self._paused and self._pause is not None:
            self._paused = True
            self._pause()
        self._notify()

    def finish(self) -> None:
        self._done = True
        self._notify()

    def fail(self, error: BaseException) -> None:
        """The producing side broke (client gone, upstream reset): readers get ``error``."""
        self._error = error
        self._done = True
        self._notify()

    def take_all(self) -> bytes | None:
        """The whole body at once if it has fully arrived (the common case for small
        messages, which then cost no further wake-ups); ``None`` otherwise."""
        if not self._done or self._error is not None:
            return None
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self._resume is not None:
            self._paused = False
            self._resume()
        return data

    async def read(self) -> bytes:
        """The next chunk, or ``b""`` at the end."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._done:
                return b""
            self._wake = asyncio.get_running_loop().create_future()
            await self._wake
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused and self._buffered < _LOW_WATER and self._resume is not None:
            self._paused = False
            self._resume()
        return chunk

    def __aiter__(self) -> BodyStream:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    def _notify(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        self._wake = None
