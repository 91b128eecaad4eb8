"""The callable check: any Python function (sync or async) judges the target.

The function receives the :class:`CheckTarget` and returns ``True`` / ``False``, a
:class:`HealthStatus` or a full :class:`CheckResult`; raising counts as critical (done by
:func:`~meshkit.health.check.run_check`). A plain function runs on a worker thread by default,
because a health probe that blocks (a database ping) must not stall the event loop; pass
``in_thread=False`` for cheap functions that only read memory.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable

from meshkit.health.status import CheckResult, HealthStatus
from meshkit.health.target import CheckTarget

__all__ = ["CallableCheck", "as_result"]


def as_result(value: object) -> CheckResult:
    """Read a check function's answer as a result (anything unexpected is critical)."""
    if isinstance(value, CheckResult):
        return value
    if isinstance(value, HealthStatus):
        return CheckResult(value)
    if isinstance(value, bool):
        return CheckResult.passing() if value else CheckResult.critical("check returned False")
    return CheckResult.critical(
        f"check returned {value!r}; expected bool, HealthStatus or CheckResult"
    )


class CallableCheck:
    """Adapt ``fn(target)`` to the :class:`~meshkit.health.check.Check` protocol."""

    __slots__ = ("_fn", "_in_thread", "_is_async")

    def __init__(self, fn: Callable[[CheckTarget], object], *, in_thread: bool = True) -> None:
        self._fn = fn
        self._is_async = inspect.iscoroutinefunction(fn)
        self._in_thread = in_thread

    async def check(self, target: CheckTarget) -> CheckResult:
        if self._is_async or not self._in_thread:
            value = self._fn(target)
        else:
            value = await asyncio.to_thread(self._fn, target)
        if inspect.isawaitable(value):  # async functions, and sync ones returning awaitables
            value = await value
        return as_result(value)

    def __repr__(self) -> str:
        return f"CallableCheck({self._fn!r})"
