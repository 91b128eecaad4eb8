"""Scene: a circuit breaker opening on an outage, probing, and closing when the service heals.

An in-process service answers for 0.3 s, fails every call for the next 0.5 s, then is well
again. A client calls it every 10 ms through a breaker (last 10 calls, trip at 50 % failures
after 5 calls, open 0.2 s doubling on each failed probe, 2 probes that must both succeed).
The tables show how few calls reached the broken service and the breaker's own log.
"""

from __future__ import annotations

from meshkit.clock import Clock
from meshkit.demo.tables import heading, table
from meshkit.errors import CircuitOpen
from meshkit.events import EventBus
from meshkit.resilience import CircuitBreaker, CircuitBreakerOptions, CircuitStateChanged
from meshkit.testing import EventRecorder

__all__ = ["run"]

TICK = 0.01
PHASES = (("healthy", 0.0, 0.3), ("outage", 0.3, 0.8), ("recovered", 0.8, 1.4))


class _Service:
    """Fails every call while the clock is inside the outage window."""

    def __init__(self, clock: Clock, start: float) -> None:
        self.clock = clock
        self.start = start
        self.reached = 0

    async def __call__(self) -> str:
        self.reached += 1
        elapsed = self.clock.monotonic() - self.start
        if PHASES[1][1] <= elapsed < PHASES[1][2]:
            raise ConnectionError("service unavailable")
        return "ok"


async def run(clock: Clock) -> None:
    bus = EventBus()
    recorder = EventRecorder(bus, types=(CircuitStateChanged,))
    breaker = CircuitBreaker(
        CircuitBreakerOptions(
            window_size=10,
            minimum_calls=5,
            failure_rate_threshold=0.5,
            break_duration=0.2,
            break_duration_multiplier=2.0,
            max_break_duration=1.0,
            half_open_calls=2,
        ),
        name="inventory",
        clock=clock,
        events=bus,
    )
    start = clock.monotonic()
    wall_start = clock.time()  # events carry wall time; the log shows seconds into the scene
    service = _Service(clock, start)
    rows = []
    for phase, begin, end in PHASES:
        sent = ok = failed = rejected = 0
        reached_before = service.reached
        while clock.monotonic() - start < end:
            sent += 1
            try:
                await breaker.execute(service)
                ok += 1
            except ConnectionError:
                failed += 1
            except CircuitOpen:
                rejected += 1
            await clock.sleep(TICK)
        reached = service.reached - reached_before
        rows.append(
            (f"{phase} ({begin:.1f}-{end:.1f} s)", sent, reached, ok, failed, rejected,
             breaker.state.value)
        )  # fmt: skip
    heading(
        "Circuit breaker: an outage from 0.3 s to 0.8 s",
        "Once open, calls fail fast instead of piling onto the broken service.",
    )
    table(
        ("phase", "calls", "reached service", "ok", "failed", "rejected fast", "state after"),
        rows,
    )
    log = [
        (
            f"{event.at - wall_start:.2f} s",
            f"{event.from_state.value} -> {event.to_state.value}",
            event.reason,
        )
        for event in recorder.of(CircuitStateChanged)
    ]
    heading("Breaker log", "The break doubles after each failed probe and resets on closing.")
    table(("at", "transition", "why"), log)
