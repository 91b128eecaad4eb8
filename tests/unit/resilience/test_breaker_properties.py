"""Whatever happens to it, a breaker only takes transitions from its table."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.clock import FakeClock
from meshkit.errors import CircuitOpen
from meshkit.events import EventBus
from meshkit.resilience.breaker import (
    ALLOWED_TRANSITIONS,
    CircuitBreaker,
    CircuitBreakerOptions,
    CircuitState,
    CircuitStateChanged,
)
from meshkit.testing import EventRecorder

steps = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.booleans(), st.floats(0, 3)),
        st.tuples(st.just("wait"), st.just(False), st.floats(0, 20)),
        st.tuples(
            st.sampled_from(["reset", "force_open", "disable"]), st.just(False), st.just(0.0)
        ),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(
    steps=steps,
    consecutive=st.one_of(st.none(), st.integers(1, 4)),
    window=st.sampled_from(["count", "time"]),
    half_open_calls=st.integers(1, 3),
    multiplier=st.sampled_from([1.0, 2.0]),
)
def test_breaker_never_leaves_its_transition_table(
    steps: list[tuple[str, bool, float]],
    consecutive: int | None,
    window: str,
    half_open_calls: int,
    multiplier: float,
) -> None:
    clock = FakeClock()
    bus = EventBus()
    recorder = EventRecorder(bus)
    breaker = CircuitBreaker(
        CircuitBreakerOptions(
            window=window,  # type: ignore[arg-type]
            window_size=5,
            minimum_calls=3,
            slow_call_duration=2.0,
            consecutive_failures=consecutive,
            break_duration=5,
            break_duration_multiplier=multiplier,
            max_break_duration=40,
            half_open_calls=half_open_calls,
        ),
        clock=clock,
        events=bus,
    )
    outstanding: list[int] = []
    for action, failed, value in steps:
        if action == "call":
            try:
                ticket = breaker.admit()
            except CircuitOpen:
                assert breaker.state is not CircuitState.CLOSED
                continue
            outstanding.append(ticket)
            if len(outstanding) > 2 or failed:  # finish some calls out of order
                done = outstanding.pop(0)
                (breaker.record_failure if failed else breaker.record_success)(done, value)
        elif action == "wait":
            clock.advance(value)
        else:
            getattr(breaker, action)()
        stats = breaker.stats()
        assert 0.0 <= stats.failure_rate <= 1.0
        assert stats.calls <= 5 or window == "time"
    previous = CircuitState.CLOSED
    for change in recorder.of(CircuitStateChanged):
        assert change.from_state is previous
        assert (change.from_state, change.to_state) in ALLOWED_TRANSITIONS
        previous = change.to_state
    assert previous is breaker.state
