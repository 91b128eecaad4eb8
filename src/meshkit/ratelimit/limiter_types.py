"""The rate limiter's extension point and its event, kept apart from
:mod:`~meshkit.ratelimit.limiter` so that the limiter compiles to a native class on the
gateway's data path (a runtime-checkable protocol and an event dataclass cannot)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from meshkit.events import Event
from meshkit.ratelimit._decision import Decision

__all__ = ["RateLimitBackend", "RateLimitRejected"]


@runtime_checkable
class RateLimitBackend(Protocol):
    """A limiter that decides asynchronously (over the network), e.g. ``RedisRateLimiter``."""

    async def decide(self, key: str, cost: int = 1) -> Decision: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitRejected(Event):
    """A request was refused (after waiting, when ``max_wait`` allowed it).

    ``key`` is ``str(key)`` (``None`` for an unkeyed limit); the rest come from the decision.
    """

    key: str | None
    cost: int
    limit: int
    remaining: int
    retry_after: float
