"""TTL heartbeats: the service reports its own health and must keep doing so.

Theory of operation
-------------------
Some services know their health better than any probe (a worker draining a queue). They call
``pass_()``, ``warn()`` or ``fail()`` on a :class:`TTLCheck`, and each call must come within
``ttl`` seconds of the previous one: every report re-arms one clock timer, and when the timer
fires first the check turns critical ("TTL expired"), as Consul's TTL checks do. Before any
report the check is critical ("no heartbeat yet"), also Consul's default.

Listeners (the scheduler, tests) hear every new result synchronously, from the reporting call
or from the expiry timer. The current result can also be read at any instant with
``result_at(now)``, which applies the expiry without waiting for the timer. Reports must come
from the event loop's thread (the timer belongs to the loop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from meshkit import _validate
from meshkit.clock import SYSTEM_CLOCK, Clock, TimerHandle
from meshkit.health.status import CheckResult, HealthStatus

__all__ = ["TTLCheck"]

_log = logging.getLogger("meshkit.health")

ResultListener = Callable[[CheckResult], None]


class TTLCheck:
    """A heartbeat the service must renew within ``ttl`` seconds."""

    __slots__ = ("_clock", "_expires_at", "_listeners", "_result", "_timer", "ttl")

    def __init__(self, ttl: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        _validate.positive("ttl", ttl)
        self.ttl = ttl
        self._clock = clock
        self._result = CheckResult.critical("no heartbeat yet")
        self._expires_at: float | None = None
        self._timer: TimerHandle | None = None
        self._listeners: list[ResultListener] = []

    # -- the service's side ----------------------------------------------------------------
    def pass_(self, note: str = "") -> None:
        self.update(CheckResult(HealthStatus.PASSING, note))

    def warn(self, note: str = "") -> None:
        self.update(CheckResult(HealthStatus.WARNING, note))

    def fail(self, note: str = "") -> None:
        self.update(CheckResult(HealthStatus.CRITICAL, note))

    def update(self, result: CheckResult) -> None:
        """Report ``result`` and restart the TTL."""
        if self._timer is not None:
            self._timer.cancel()
        self._result = result
        self._expires_at = self._clock.monotonic() + self.ttl
        self._timer = self._clock.call_later(self.ttl, self._expire)
        self._notify(result)

    # -- the observer's side ---------------------------------------------------------------
    @property
    def expires_at(self) -> float | None:
        """Monotonic time the last report runs out (``None`` before any, or once expired)."""
        return self._expires_at

    def result_at(self, now: float) -> CheckResult:
        """The result in force at ``now`` (critical once the TTL has run out)."""
        if self._expires_at is not None and now >= self._expires_at:
            return self._expired_result()
        return self._result

    @property
    def result(self) -> CheckResult:
        return self.result_at(self._clock.monotonic())

    def subscribe(self, listener: ResultListener) -> Callable[[], None]:
        """Call ``listener(result)`` on every report and on expiry; returns an unsubscriber."""
        self._listeners = [*self._listeners, listener]

        def unsubscribe() -> None:
            self._listeners = [fn for fn in self._listeners if fn is not listener]

        return unsubscribe

    def close(self) -> None:
        """Stop the expiry timer (the check keeps its last result)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- internals -------------------------------------------------------------------------
    def _expire(self) -> None:
        self._timer = None
        self._result = self._expired_result()
        self._expires_at = None
        self._notify(self._result)

    def _expired_result(self) -> CheckResult:
        return CheckResult.critical(f"TTL of {self.ttl:g}s expired")

    def _notify(self, result: CheckResult) -> None:
        for listener in self._listeners:  # replaced on change, never mutated: safe to iterate
            try:
                listener(result)
            except Exception:
                _log.exception("TTL check listener %r failed", listener)

    def __repr__(self) -> str:
        return f"TTLCheck(ttl={self.ttl:g}, status={self._result.status.value})"
