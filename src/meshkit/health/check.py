"""What a check is, and the one place where a probe is bounded in time and made safe.

Theory of operation
-------------------
A :class:`Check` is any object with ``async def check(target) -> CheckResult``. It may hang
(a server that accepts and never answers) and it may raise (a user's callable, a socket).
:func:`run_check` is the single wrapper the scheduler (and anyone else) uses to call one:

* the probe is bounded by ``timeout`` on the injected clock: a ``call_later`` timer cancels the
  task running the probe, and the cancellation is turned into a critical "timed out" result
  after ``Task.uncancel()`` — so a caller's own cancellation is never mistaken for a timeout
  and still propagates;
* any ``Exception`` (``OSError`` included) becomes a critical result whose reason names it;
  only cancellation and other ``BaseException`` travel up.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.health.status import CheckResult
from meshkit.health.target import CheckTarget

__all__ = ["Check", "failure_reason", "run_check"]


@runtime_checkable
class Check(Protocol):
    """A probe of one target. It may raise or hang; :func:`run_check` copes with both."""

    async def check(self, target: CheckTarget) -> CheckResult: ...


def failure_reason(exc: BaseException) -> str:
    """A one-line reason naming an exception (its type, and its message when it has one)."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def run_check(
    check: Check, target: CheckTarget, *, timeout: float, clock: Clock = SYSTEM_CLOCK
) -> CheckResult:
    """Run ``check`` on ``target`` for at most ``timeout`` seconds; never raise ``Exception``."""
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - asyncio always runs coroutines in a task
        raise RuntimeError("run_check must run inside an asyncio task")
    cancels_before = task.cancelling()
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = clock.call_later(timeout, expire)
    try:
        result = await check.check(target)
    except asyncio.CancelledError:
        if not expired or task.uncancel() > cancels_before:
            raise  # not ours, or someone else cancelled too: cancellation wins
        return CheckResult.critical(f"timed out after {timeout:g}s")
    except Exception as exc:
        result = CheckResult.critical(failure_reason(exc))
    finally:
        timer.cancel()
    if expired:
        # The probe swallowed (or converted) our cancellation; the deadline passed all the same.
        if task.uncancel() > cancels_before:
            raise asyncio.CancelledError
        return CheckResult.critical(f"timed out after {timeout:g}s")
    return result
