"""The health checker: many targets, each probed on its own jittered schedule.

Theory of operation
-------------------
Each target gets one task that sleeps on the injected clock, probes, feeds the result to the
target's :class:`~meshkit.health.state.CheckState`, and sleeps again. The wait starts when the
probe ends, so one target never has two probes in flight however slow it is. Waits are
``interval`` stretched or shrunk by up to ``jitter``, and the first one is a random slice of
``interval * jitter``: targets added together drift apart instead of probing in lockstep.

Probing is bounded twice: every probe by its ``timeout`` (:func:`run_check`), and all probes
together by ``max_concurrent`` slots. A probe waits for a slot before its timeout starts, so a
thousand targets on a one-second interval queue briefly instead of opening a thousand sockets
at once and starving the loop; the wait only delays that target's schedule.

TTL checks need no task: their reports and expiries arrive through a listener.

When a status changes the checker calls ``on_change`` and publishes ``HealthStatusChanged``.
A target that turns critical with ``deregister_critical_after`` set arms one clock timer; if it
is still critical when the timer fires, the checker drops it, publishes ``TargetDeregistered``
and calls ``on_deregister(target)`` (a coroutine result runs as a task the checker owns).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any

from meshkit import _validate
from meshkit.clock import SYSTEM_CLOCK, Clock, TimerHandle
from meshkit.events import EventBus
from meshkit.health.aggregate import ServiceHealth
from meshkit.health.check import Check, run_check
from meshkit.health.events import HealthStatusChanged, TargetDeregistered
from meshkit.health.options import DEFAULT_CHECK_OPTIONS, CheckOptions
from meshkit.health.state import CheckState, StatusChange
from meshkit.health.status import CheckResult, HealthStatus
from meshkit.health.target import CheckTarget
from meshkit.health.ttl import TTLCheck

__all__ = ["DEFAULT_MAX_CONCURRENT", "HealthChecker"]

_log = logging.getLogger("meshkit.health")

# Enough parallel probes to keep 1,000 targets at a 1 s interval on schedule when each probe
# takes tens of milliseconds, few enough that a burst of slow targets cannot flood the loop.
DEFAULT_MAX_CONCURRENT = 64

StatusListener = Callable[[HealthStatusChanged], None]
DeregisterListener = Callable[[CheckTarget], Awaitable[None] | None]


class _Entry:
    __slots__ = ("check", "deregister_timer", "options", "state", "target", "task", "ttl", "unsub")

    def __init__(
        self,
        target: CheckTarget,
        check: Check | None,
        options: CheckOptions,
        state: CheckState,
        ttl: TTLCheck | None = None,
    ) -> None:
        self.target = target
        self.check = check
        self.options = options
        self.state = state
        self.ttl = ttl
        self.task: asyncio.Task[None] | None = None
        self.deregister_timer: TimerHandle | None = None
        self.unsub: Callable[[], None] | None = None


class HealthChecker:
    """Run active checks and follow TTL checks for many targets; report status changes."""

    def __init__(
        self,
        *,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        name: str = "health",
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        events: EventBus | None = None,
        on_change: StatusListener | None = None,
        on_deregister: DeregisterListener | None = None,
    ) -> None:
        _validate.at_least("max_concurrent", max_concurrent, 1)
        self.name = name
        self.max_concurrent = max_concurrent
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._events = events
        self._on_change = on_change
        self._on_deregister = on_deregister
        self._slots = asyncio.Semaphore(max_concurrent)
        self._entries: dict[str, _Entry] = {}
        self._callbacks: set[asyncio.Future[Any]] = set()
        self._running = False
        self._in_flight = 0

    # -- membership ------------------------------------------------------------------------
    def add(
        self, target: CheckTarget, check: Check, options: CheckOptions = DEFAULT_CHECK_OPTIONS
    ) -> None:
        """Probe ``target`` with ``check``; replaces any target with the same instance id."""
        state = CheckState.from_options(options, self._clock.monotonic())
        self._install(_Entry(target, check, options, state))

    def add_ttl(
        self, target: CheckTarget, ttl: TTLCheck, *, deregister_critical_after: float | None = None
    ) -> None:
        """Follow a TTL check. Reports are the service's own words, so they apply at once
        (rise = fall = 1)."""
        options = CheckOptions(
            interval=ttl.ttl,
            timeout=ttl.ttl,
            rise=1,
            fall=1,
            deregister_critical_after=deregister_critical_after,
        )
        state = CheckState.from_options(options, self._clock.monotonic())
        self._install(_Entry(target, None, options, state, ttl))

    def remove(self, instance_id: str) -> bool:
        """Stop checking ``instance_id``; False when it was not checked."""
        entry = self._entries.pop(instance_id, None)
        if entry is None:
            return False
        self._deactivate(entry)
        return True

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def targets(self) -> list[CheckTarget]:
        return [entry.target for entry in self._entries.values()]

    # -- reading ---------------------------------------------------------------------------
    def status(self, instance_id: str) -> HealthStatus:
        """The current status of a checked target (``KeyError`` if it is not checked)."""
        return self._entries[instance_id].state.status

    def state(self, instance_id: str) -> CheckState:
        """The full state of a target: status, reason, since, last result, streaks."""
        return self._entries[instance_id].state

    def statuses(self) -> dict[str, HealthStatus]:
        return {iid: entry.state.status for iid, entry in self._entries.items()}

    def summary(
        self, instance_ids: Iterable[str] | None = None, *, degraded_below: float = 1.0
    ) -> ServiceHealth:
        """Aggregate the statuses of ``instance_ids`` (default: every target)."""
        entries = self._entries
        ids = entries.keys() if instance_ids is None else instance_ids
        return ServiceHealth.of(
            (entries[i].state.status if i in entries else HealthStatus.UNKNOWN for i in ids),
            degraded_below=degraded_below,
        )

    @property
    def in_flight(self) -> int:
        """Probes running right now (never more than ``max_concurrent``)."""
        return self._in_flight

    @property
    def running(self) -> bool:
        return self._running

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin probing every target (targets added later start at once)."""
        if self._running:
            return
        self._running = True
        for entry in list(self._entries.values()):
            self._activate(entry)

    async def stop(self) -> None:
        """Cancel every probe, timer and callback task, and wait for the tasks to end."""
        self._running = False
        tasks: list[asyncio.Future[Any]] = []
        for entry in self._entries.values():
            if entry.task is not None:
                tasks.append(entry.task)
            self._deactivate(entry)
        tasks.extend(self._callbacks)
        for task in self._callbacks:
            task.cancel()
        self._callbacks.clear()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> HealthChecker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- internals: wiring -----------------------------------------------------------------
    def _install(self, entry: _Entry) -> None:
        self.remove(entry.target.instance_id)
        self._entries[entry.target.instance_id] = entry
        if self._running:
            self._activate(entry)

    def _activate(self, entry: _Entry) -> None:
        if entry.ttl is not None:
            ttl = entry.ttl
            entry.unsub = ttl.subscribe(lambda result: self._observe(entry, result))
            self._observe(entry, ttl.result)
        else:
            entry.task = asyncio.get_running_loop().create_task(
                self._probe_forever(entry), name=f"meshkit-health:{entry.target.instance_id}"
            )
        self._arm_deregistration(entry)

    def _deactivate(self, entry: _Entry) -> None:
        if entry.task is not None:
            entry.task.cancel()
            entry.task = None
        if entry.unsub is not None:
            entry.unsub()
            entry.unsub = None
        if entry.deregister_timer is not None:
            entry.deregister_timer.cancel()
            entry.deregister_timer = None

    # -- internals: probing ----------------------------------------------------------------
    async def _probe_forever(self, entry: _Entry) -> None:
        options, clock, check = entry.options, self._clock, entry.check
        assert check is not None
        await clock.sleep(options.interval * options.jitter * self._rng.random())
        while True:
            async with self._slots:
                self._in_flight += 1
                try:
                    result = await run_check(
                        check, entry.target, timeout=options.timeout, clock=clock
                    )
                finally:
                    self._in_flight -= 1
            self._observe(entry, result)
            await clock.sleep(self._next_wait(options))

    def _next_wait(self, options: CheckOptions) -> float:
        spread = options.jitter * (2.0 * self._rng.random() - 1.0)  # uniform in [-jitter, jitter]
        return options.interval * (1.0 + spread)

    def _observe(self, entry: _Entry, result: CheckResult) -> None:
        change = entry.state.observe(result, self._clock.monotonic())
        if change is None:
            return
        self._arm_deregistration(entry)
        self._report(entry.target, change)

    def _report(self, target: CheckTarget, change: StatusChange) -> None:
        events, on_change = self._events, self._on_change
        publish = events is not None and events.active
        if on_change is None and not publish:
            return
        event = HealthStatusChanged(
            source=self.name,
            at=self._clock.time(),
            target=target,
            previous=change.previous,
            current=change.current,
            reason=change.reason,
        )
        if on_change is not None:
            try:
                on_change(event)
            except Exception:
                _log.exception("health on_change callback failed for %s", target)
        if publish:
            assert events is not None
            events.publish(event)

    # -- internals: deregistration ---------------------------------------------------------
    def _arm_deregistration(self, entry: _Entry) -> None:
        if entry.deregister_timer is not None:
            entry.deregister_timer.cancel()
            entry.deregister_timer = None
        due = entry.state.deregister_at
        if due is None or not self._running:
            return
        delay = max(0.0, due - self._clock.monotonic())
        entry.deregister_timer = self._clock.call_later(delay, lambda: self._deregister(entry))

    def _deregister(self, entry: _Entry) -> None:
        entry.deregister_timer = None
        target = entry.target
        if self._entries.get(target.instance_id) is not entry:
            return  # removed or replaced meanwhile
        now = self._clock.monotonic()
        if not entry.state.deregister_due(now):
            self._arm_deregistration(entry)  # a timer fired early; try again when due
            return
        critical_for = now - entry.state.since
        self.remove(target.instance_id)
        events = self._events
        if events is not None and events.active:
            events.publish(
                TargetDeregistered(
                    source=self.name,
                    at=self._clock.time(),
                    target=target,
                    critical_for=critical_for,
                )
            )
        if self._on_deregister is not None:
            self._call_deregister(target)

    def _call_deregister(self, target: CheckTarget) -> None:
        assert self._on_deregister is not None
        try:
            outcome = self._on_deregister(target)
        except Exception:
            _log.exception("health on_deregister callback failed for %s", target)
            return
        if inspect.isawaitable(outcome):
            task = asyncio.ensure_future(outcome)
            self._callbacks.add(task)
            task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Future[Any]) -> None:
        self._callbacks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("health on_deregister callback failed", exc_info=task.exception())

    def __repr__(self) -> str:
        return (
            f"HealthChecker({self.name!r}, targets={len(self._entries)}, "
            f"running={self._running}, max_concurrent={self.max_concurrent})"
        )
