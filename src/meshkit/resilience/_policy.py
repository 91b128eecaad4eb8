"""What every resilience policy looks like to the pipeline.

A policy is a pure decision core (tested on a ``FakeClock``) plus a thin wrapper with two entry
points: ``await policy.execute(fn, *args, **kwargs)`` for coroutine functions and
``policy.execute_sync(fn, *args, **kwargs)`` for plain ones. Arguments are forwarded so that a
pipeline can chain policies once and reuse the chain for every call.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["Policy", "PolicyKind"]

T = TypeVar("T")


class PolicyKind(enum.IntEnum):
    """Kinds of policy, valued by their place in the default pipeline order (outermost first).

    Fallback sees every failure; the bulkhead bounds everything inside it; the total timeout
    covers all attempts; the rate limit charges once per logical call; retry (or hedging)
    repeats what is inside; the breaker sees each attempt; the attempt timeout bounds one try.
    """

    FALLBACK = 0
    BULKHEAD = 1
    TOTAL_TIMEOUT = 2
    RATE_LIMIT = 3
    RETRY = 4
    HEDGING = 5
    BREAKER = 6
    ATTEMPT_TIMEOUT = 7


@runtime_checkable
class Policy(Protocol):
    """A composable resilience policy."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> PolicyKind: ...

    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T: ...

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...
