"""A circuit breaker: stop calling what is failing, test it now and then, resume when well.

Theory of operation
-------------------
The decision core is four methods that never wait: ``admit()`` returns a *ticket* or raises
``CircuitOpen``; ``record_success`` / ``record_failure`` report the call's outcome against that
ticket; ``release`` hands back a ticket whose call ended in neither (cancelled, or an exception
the options ignore). ``execute`` / ``execute_sync`` wrap a call in those four; the gateway calls
them directly around a proxied request.

A ticket is the breaker's *generation* when the call was admitted; every state change starts a
new generation. An outcome whose ticket is from an older generation is dropped, so a slow call
admitted before a trip cannot count as a half-open probe, and a probe that returns after an
operator reset cannot reopen the circuit.

CLOSED is the hot path: admission is one attribute comparison and no clock read, and a success
on a count window is a ring write — the clock is read only when a slow-call duration or a time
window needs it. Rates are checked only when a failure or slow call is recorded, since a
success can never raise them. OPEN becomes HALF_OPEN lazily, on the first call after the break
(no timer per breaker). In HALF_OPEN at most ``half_open_calls`` probes are in flight; they
close the circuit on ``half_open_successes`` successes and reopen it as soon as too many have
failed for that to happen (a slow probe counts as failed). Each reopening in a row multiplies
the break by ``break_duration_multiplier`` up to ``max_break_duration``; closing resets it.

The async path takes no lock (one event loop); ``execute_sync`` serialises the core under a
lock so threads sharing a breaker keep its counts exact.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import CircuitOpen
from meshkit.events import EventBus
from meshkit.resilience._policy import PolicyKind
from meshkit.resilience.breaker.core import FAILED, SLOW, CountWindow, TimeWindow
from meshkit.resilience.breaker.events import (
    CircuitBreakerStats,
    CircuitCallRejected,
    CircuitStateChanged,
)
from meshkit.resilience.breaker.options import CircuitBreakerOptions
from meshkit.resilience.breaker.states import CircuitState

__all__ = ["CircuitBreaker"]

T = TypeVar("T")

_CLOSED = CircuitState.CLOSED
_OPEN = CircuitState.OPEN
_HALF_OPEN = CircuitState.HALF_OPEN
_FORCED_OPEN = CircuitState.FORCED_OPEN
_DISABLED = CircuitState.DISABLED
_UNCOUNTED = -1  # the ticket of a call admitted while disabled


class CircuitBreaker:
    """Refuse calls while a dependency is failing; see the module docstring."""

    __slots__ = (
        "_clock",
        "_consecutive",
        "_events",
        "_failure",
        "_generation",
        "_lock",
        "_minimum",
        "_name",
        "_open_until",
        "_probe_failures",
        "_probe_successes",
        "_probes",
        "_rejected",
        "_reopenings",
        "_state",
        "_timed",
        "_trips",
        "_window",
        "options",
    )

    def __init__(
        self,
        options: CircuitBreakerOptions | None = None,
        *,
        name: str = "breaker",
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        self.options = options = options if options is not None else CircuitBreakerOptions()
        self._name = name
        self._clock = clock
        self._events = events
        self._failure = options.failure
        if options.window == "count":
            size = int(options.window_size)
            self._window: CountWindow | TimeWindow = CountWindow(size)
            self._minimum = min(options.minimum_calls, size)
        else:
            self._window = TimeWindow(options.window_size, options.time_buckets, clock.monotonic())
            self._minimum = options.minimum_calls
        self._timed = options.slow_call_duration is not None or options.window == "time"
        self._state = _CLOSED
        self._generation = 0
        self._open_until = 0.0
        self._consecutive = 0
        self._probes = self._probe_successes = self._probe_failures = 0
        self._reopenings = 0  # trips since the circuit was last closed: grows the break
        self._trips = 0
        self._rejected = 0
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return PolicyKind.BREAKER

    @property
    def state(self) -> CircuitState:
        """The current state (OPEN turns HALF_OPEN on the first call after the break)."""
        return self._state

    # -- the policy --------------------------------------------------------------------------
    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        ticket = self._generation if self._state is _CLOSED else self._admit_slow()
        start = self._clock.monotonic() if self._timed else 0.0
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._settle_exception(ticket, exc, start)
            raise
        if self._failure.result_predicate is not None and self._failure.is_failure_result(result):
            self._record(ticket, FAILED, start)
        elif ticket == self._generation:
            if self._timed:
                self._record(ticket, 0, start)
            elif self._state is _CLOSED:  # the hot path: a success on a count window
                self._window.record(0, 0.0)
                self._consecutive = 0
            else:
                self._record_at(ticket, 0, 0.0)
        return result

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            ticket = self._generation if self._state is _CLOSED else self._admit_slow()
        start = self._clock.monotonic() if self._timed else 0.0
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            with self._lock:
                self._settle_exception(ticket, exc, start)
            raise
        failed = self._failure.is_failure_result(result)
        with self._lock:
            self._record(ticket, FAILED if failed else 0, start)
        return result

    # -- the decision core -------------------------------------------------------------------
    def admit(self) -> int:
        """Let one call through and return its ticket, or raise ``CircuitOpen``."""
        return self._generation if self._state is _CLOSED else self._admit_slow()

    def record_success(self, ticket: int, duration: float = 0.0) -> None:
        """The call admitted with ``ticket`` succeeded after ``duration`` seconds."""
        now = self._clock.monotonic() if self._timed else 0.0  # count windows need no time
        self._record_at(ticket, self._slow_bit(duration), now)

    def record_failure(self, ticket: int, duration: float = 0.0) -> None:
        """The call admitted with ``ticket`` failed after ``duration`` seconds."""
        now = self._clock.monotonic() if self._timed else 0.0
        self._record_at(ticket, FAILED | self._slow_bit(duration), now)

    def release(self, ticket: int) -> None:
        """The call ended with no verdict (cancelled, or an ignored exception)."""
        if ticket == self._generation and self._state is _HALF_OPEN:
            self._probes -= 1  # let another probe take its place

    # -- operator actions --------------------------------------------------------------------
    def reset(self) -> None:
        """Close the circuit and forget the window (from any state)."""
        self._transition(_CLOSED, "reset by operator")

    def force_open(self) -> None:
        """Refuse every call until ``reset()`` (maintenance, a known-bad dependency)."""
        self._transition(_FORCED_OPEN, "forced open by operator")

    def disable(self) -> None:
        """Let every call through and count nothing until ``reset()``."""
        self._transition(_DISABLED, "disabled by operator")

    def retry_after(self) -> float | None:
        """Seconds until an OPEN circuit lets a probe through (``None`` in other states)."""
        if self._state is not _OPEN:
            return None
        return max(0.0, self._open_until - self._clock.monotonic())

    def stats(self) -> CircuitBreakerStats:
        window = self._window
        window.refresh(self._clock.monotonic())
        calls = window.calls
        return CircuitBreakerStats(
            state=self._state,
            calls=calls,
            failures=window.failures,
            slow_calls=window.slow,
            failure_rate=window.failures / calls if calls else 0.0,
            slow_call_rate=window.slow / calls if calls else 0.0,
            consecutive_failures=self._consecutive,
            rejected=self._rejected,
            trips=self._trips,
        )

    # -- internals ---------------------------------------------------------------------------
    def _admit_slow(self) -> int:
        state = self._state
        if state is _DISABLED:
            return _UNCOUNTED
        if state is _OPEN:
            now = self._clock.monotonic()
            if now < self._open_until:
                raise self._reject(self._open_until - now)
            self._transition(_HALF_OPEN, "break duration over; probing")
            state = _HALF_OPEN
        if state is _HALF_OPEN and self._probes < self.options.half_open_calls:
            self._probes += 1
            return self._generation
        raise self._reject(None)

    def _reject(self, retry_after: float | None) -> CircuitOpen:
        self._rejected += 1
        state = self._state
        events = self._events
        if events is not None and events.active:
            events.publish(
                CircuitCallRejected(
                    source=self._name, at=self._clock.time(), state=state, retry_after=retry_after
                )
            )
        return CircuitOpen(
            f"{self._name}: circuit is {state.value}", retry_after=retry_after, policy=self._name
        )

    def _settle_exception(self, ticket: int, exc: BaseException, start: float) -> None:
        failure = self._failure
        if not isinstance(exc, Exception) or isinstance(exc, failure.ignore):
            self.release(ticket)  # cancellation or an ignored error: no verdict
        elif failure.is_failure(exc):
            self._record(ticket, FAILED, start)
        else:
            self._record(ticket, 0, start)  # an exception the options do not count is a success

    def _slow_bit(self, duration: float) -> int:
        threshold = self.options.slow_call_duration
        return SLOW if threshold is not None and duration >= threshold else 0

    def _record(self, ticket: int, code: int, start: float) -> None:
        if ticket != self._generation:
            return
        if self._timed:
            now = self._clock.monotonic()
            code |= self._slow_bit(now - start)
        else:
            now = 0.0
        self._record_at(ticket, code, now)

    def _record_at(self, ticket: int, code: int, now: float) -> None:
        if ticket != self._generation:
            return  # admitted under an earlier state, or while disabled
        state = self._state
        if state is _CLOSED:
            window = self._window
            window.record(code, now)
            if not code:
                self._consecutive = 0
                return
            options = self.options
            if code & FAILED:
                self._consecutive += 1
                limit = options.consecutive_failures
                if limit is not None and self._consecutive >= limit:
                    self._trip(f"{self._consecutive} consecutive failures")
                    return
            else:
                self._consecutive = 0
            calls = window.calls
            if calls < self._minimum:
                return
            threshold = options.failure_rate_threshold
            if threshold is not None and window.failures >= threshold * calls:
                self._trip(f"failure rate {window.failures / calls:.0%} >= {threshold:.0%}")
            elif options.slow_call_duration is not None and (
                window.slow >= options.slow_call_rate_threshold * calls
            ):
                self._trip(
                    f"slow-call rate {window.slow / calls:.0%} >= "
                    f"{options.slow_call_rate_threshold:.0%}"
                )
        elif state is _HALF_OPEN:
            options = self.options
            if code:
                self._probe_failures += 1
                allowed = options.half_open_calls - options.successes_to_close
                if self._probe_failures > allowed:
                    self._trip(f"{self._probe_failures} of the probes failed")
            else:
                self._probe_successes += 1
                if self._probe_successes >= options.successes_to_close:
                    self._transition(_CLOSED, f"{self._probe_successes} probes succeeded")

    def _trip(self, reason: str) -> None:
        options = self.options
        growth = options.break_duration_multiplier**self._reopenings
        duration = min(options.max_break_duration, options.break_duration * growth)
        self._reopenings += 1
        self._trips += 1
        self._open_until = self._clock.monotonic() + duration
        self._transition(_OPEN, f"{reason}; open for {duration:g}s")

    def _transition(self, to: CircuitState, reason: str) -> None:
        old = self._state
        if old is to:
            return
        window = self._window
        window.refresh(self._clock.monotonic())
        calls = window.calls
        rates = (window.failures / calls, window.slow / calls) if calls else (None, None)
        self._state = to
        self._generation += 1
        if to is _CLOSED:
            window.reset()
            self._consecutive = 0
            self._reopenings = 0
        elif to is _HALF_OPEN:
            self._probes = self._probe_successes = self._probe_failures = 0
        events = self._events
        if events is not None and events.active:
            events.publish(
                CircuitStateChanged(
                    source=self._name,
                    at=self._clock.time(),
                    from_state=old,
                    to_state=to,
                    reason=reason,
                    failure_rate=rates[0],
                    slow_call_rate=rates[1],
                )
            )

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self._name!r}, state={self._state.value})"
