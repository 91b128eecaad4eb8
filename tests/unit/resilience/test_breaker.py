from __future__ import annotations

import asyncio

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import CircuitOpen, ConfigError, RateLimited
from meshkit.events import EventBus
from meshkit.resilience import OutcomeFilter
from meshkit.resilience.breaker import (
    CircuitBreaker,
    CircuitBreakerOptions,
    CircuitCallRejected,
    CircuitState,
    CircuitStateChanged,
)
from meshkit.testing import EventRecorder


class Boom(Exception):
    pass


async def ok() -> str:
    return "ok"


async def fail() -> str:
    raise Boom("down")


def make(clock: FakeClock, bus: EventBus | None = None, **options: object) -> CircuitBreaker:
    return CircuitBreaker(
        CircuitBreakerOptions(**options),  # type: ignore[arg-type]
        name="db",
        clock=clock,
        events=bus,
    )


async def run(breaker: CircuitBreaker, outcomes: str) -> None:
    """Drive calls: 's' succeeds, 'f' fails; rejections propagate."""
    for outcome in outcomes:
        if outcome == "s":
            await breaker.execute(ok)
        else:
            with pytest.raises(Boom):
                await breaker.execute(fail)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"window_size": 0}, "window_size"),
        ({"window_size": 2.5}, "window_size"),
        ({"window": "time", "window_size": -1}, "window_size"),
        ({"window": "sliding"}, "window"),
        ({"minimum_calls": 0}, "minimum_calls"),
        ({"failure_rate_threshold": 1.5}, "failure_rate_threshold"),
        ({"failure_rate_threshold": 0}, "failure_rate_threshold"),
        ({"slow_call_duration": 1, "slow_call_rate_threshold": -0.1}, "slow_call_rate_threshold"),
        ({"consecutive_failures": 0}, "consecutive_failures"),
        ({"break_duration": 0}, "break_duration"),
        ({"break_duration": 60, "max_break_duration": 30}, "break_duration"),
        ({"break_duration_multiplier": 0.5}, "break_duration_multiplier"),
        ({"half_open_calls": 2, "half_open_successes": 3}, "half_open_successes"),
        ({"failure_rate_threshold": None}, "failure_rate_threshold"),
        ({"time_buckets": 0}, "time_buckets"),
    ],
)
def test_invalid_options_name_the_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named) as info:
        CircuitBreakerOptions(**options)  # type: ignore[arg-type]
    assert info.value.option == named


async def test_failure_rate_trips_only_after_minimum_calls(clock: FakeClock) -> None:
    breaker = make(clock, window_size=10, minimum_calls=4, failure_rate_threshold=0.5)
    await run(breaker, "fff")  # 100 % failures, but only 3 calls
    assert breaker.state is CircuitState.CLOSED
    await run(breaker, "s")  # 4 calls, 75 % failures, but a success never trips
    assert breaker.state is CircuitState.CLOSED
    await run(breaker, "f")  # 5 calls, 80 %
    assert breaker.state is CircuitState.OPEN


async def test_count_window_forgets_the_oldest_calls(clock: FakeClock) -> None:
    breaker = make(clock, window_size=4, minimum_calls=4, failure_rate_threshold=0.75)
    await run(breaker, "ffss")  # 50 %
    await run(breaker, "ss")  # the two failures slid out
    stats = breaker.stats()
    assert (stats.calls, stats.failures) == (4, 0)
    await run(breaker, "fff")  # window: s f f f = 75 %
    assert breaker.state is CircuitState.OPEN


async def test_time_window_slides_with_the_clock(clock: FakeClock) -> None:
    breaker = make(
        clock, window="time", window_size=10, time_buckets=10, minimum_calls=3,
        failure_rate_threshold=0.5,
    )  # fmt: skip
    await run(breaker, "ff")
    clock.advance(10.0)  # both failures are now outside the last 10 s
    await run(breaker, "ssf")  # 1 of 3
    assert breaker.state is CircuitState.CLOSED
    assert breaker.stats().calls == 3
    clock.advance(5.0)
    await run(breaker, "f")  # 2 of 4 = 50 %
    assert breaker.state is CircuitState.OPEN


async def test_consecutive_failures_mode(clock: FakeClock) -> None:
    breaker = make(clock, failure_rate_threshold=None, consecutive_failures=3)
    await run(breaker, "ffsff")
    assert breaker.state is CircuitState.CLOSED
    await run(breaker, "f")
    assert breaker.state is CircuitState.OPEN


async def test_slow_calls_trip_on_the_slow_call_rate(clock: FakeClock) -> None:
    breaker = make(
        clock, failure_rate_threshold=None, slow_call_duration=1.0, slow_call_rate_threshold=0.5,
        minimum_calls=2, window_size=4,
    )  # fmt: skip

    async def slow() -> str:
        await clock.sleep(2.0)
        return "late"

    await breaker.execute(ok)
    task = asyncio.create_task(breaker.execute(slow))
    await clock.run_for(2.0)
    assert await task == "late"
    assert breaker.state is CircuitState.OPEN
    assert breaker.stats().slow_calls == 1


async def test_open_rejects_with_retry_after_then_half_opens(clock: FakeClock) -> None:
    breaker = make(clock, consecutive_failures=1, break_duration=30)
    await run(breaker, "f")
    clock.advance(10)
    with pytest.raises(CircuitOpen) as info:
        await breaker.execute(ok)
    assert info.value.retry_after == pytest.approx(20)
    assert info.value.policy == "db"
    clock.advance(20)
    assert await breaker.execute(ok) == "ok"  # the probe
    assert breaker.state is CircuitState.CLOSED


async def test_half_open_admits_n_probes_and_needs_m_successes(clock: FakeClock) -> None:
    breaker = make(
        clock, consecutive_failures=1, break_duration=5, half_open_calls=3, half_open_successes=2
    )
    await run(breaker, "f")
    clock.advance(5)
    gate = asyncio.Event()

    async def held() -> str:
        await gate.wait()
        return "ok"

    probes = [asyncio.create_task(breaker.execute(held)) for _ in range(3)]
    await clock.settle()
    assert breaker.state is CircuitState.HALF_OPEN
    with pytest.raises(CircuitOpen) as info:  # a fourth probe is not admitted
        await breaker.execute(ok)
    assert info.value.retry_after is None
    gate.set()
    await asyncio.gather(*probes)
    assert breaker.state is CircuitState.CLOSED


async def test_half_open_reopens_once_success_is_impossible(clock: FakeClock) -> None:
    breaker = make(
        clock, consecutive_failures=1, break_duration=5, half_open_calls=3, half_open_successes=2
    )
    await run(breaker, "f")
    clock.advance(5)
    await run(breaker, "f")  # one failure may still allow 2 of 3
    assert breaker.state is CircuitState.HALF_OPEN
    await run(breaker, "f")  # now 2 successes out of 3 cannot happen
    assert breaker.state is CircuitState.OPEN


async def test_break_grows_on_repeated_trips_and_resets_on_close(clock: FakeClock) -> None:
    breaker = make(
        clock, consecutive_failures=1, break_duration=10, break_duration_multiplier=2,
        max_break_duration=30,
    )  # fmt: skip
    breaks = []
    for _ in range(4):
        await run(breaker, "f")
        with pytest.raises(CircuitOpen) as info:
            await breaker.execute(ok)
        assert info.value.retry_after is not None
        breaks.append(info.value.retry_after)
        clock.advance(info.value.retry_after)
    assert breaks == [10, 20, 30, 30]
    await run(breaker, "s")  # probe succeeds: closed, growth forgotten
    await run(breaker, "f")
    with pytest.raises(CircuitOpen) as info:
        await breaker.execute(ok)
    assert info.value.retry_after == 10


async def test_operator_actions(clock: FakeClock) -> None:
    breaker = make(clock, consecutive_failures=1)
    breaker.force_open()
    with pytest.raises(CircuitOpen) as info:
        await breaker.execute(ok)
    assert info.value.retry_after is None
    clock.advance(10_000)  # forced open never times out
    with pytest.raises(CircuitOpen):
        await breaker.execute(ok)
    breaker.disable()
    await run(breaker, "fff")  # nothing counted, nothing trips
    assert breaker.state is CircuitState.DISABLED
    assert breaker.stats().calls == 0
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED
    await run(breaker, "f")
    assert breaker.state is CircuitState.OPEN
    assert breaker.stats().rejected == 2


async def test_call_admitted_before_a_trip_is_not_a_probe(clock: FakeClock) -> None:
    breaker = make(clock, consecutive_failures=1, break_duration=1)
    gate = asyncio.Event()

    async def held() -> str:
        await gate.wait()
        raise Boom("late failure")

    straggler = asyncio.create_task(breaker.execute(held))
    await clock.settle()
    await run(breaker, "f")  # trips
    clock.advance(1)
    probe = asyncio.create_task(breaker.execute(gate.wait))
    await clock.settle()
    assert breaker.state is CircuitState.HALF_OPEN
    gate.set()
    with pytest.raises(Boom):
        await straggler  # its failure belongs to the old generation
    await probe
    assert breaker.state is CircuitState.CLOSED


async def test_cancelled_probe_frees_its_slot(clock: FakeClock) -> None:
    breaker = make(clock, consecutive_failures=1, break_duration=1)
    await run(breaker, "f")
    clock.advance(1)
    probe = asyncio.create_task(breaker.execute(asyncio.Event().wait))
    await clock.settle()
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await breaker.execute(ok) == "ok"
    assert breaker.state is CircuitState.CLOSED


async def test_which_outcomes_count_is_configurable(clock: FakeClock) -> None:
    breaker = make(
        clock,
        consecutive_failures=2,
        failure_rate_threshold=None,
        failure=OutcomeFilter(exceptions=(Boom,), result_predicate=lambda r: r == 503),
    )

    async def not_found() -> str:
        raise KeyError("user")

    async def rate_limited() -> str:
        raise RateLimited("slow down")

    async def unavailable() -> int:
        return 503

    with pytest.raises(KeyError):  # not a listed failure: counts as a success
        await breaker.execute(not_found)
    with pytest.raises(RateLimited):  # meshkit's own rejections are ignored
        await breaker.execute(rate_limited)
    assert breaker.stats().calls == 1
    assert await breaker.execute(unavailable) == 503
    with pytest.raises(Boom):
        await breaker.execute(fail)
    assert breaker.state is CircuitState.OPEN


def test_sync_calls_share_the_state_machine(clock: FakeClock) -> None:
    breaker = make(clock, consecutive_failures=2, break_duration=5)

    def boom() -> None:
        raise Boom("sync")

    for _ in range(2):
        with pytest.raises(Boom) as info:
            breaker.execute_sync(boom)
        assert info.value.__traceback__ is not None
    with pytest.raises(CircuitOpen):
        breaker.execute_sync(lambda: 1)
    clock.advance(5)
    assert breaker.execute_sync(lambda: 7) == 7
    assert breaker.state is CircuitState.CLOSED


async def test_state_changes_and_rejections_are_events(
    clock: FakeClock, bus: EventBus, recorder: EventRecorder
) -> None:
    breaker = make(clock, bus, consecutive_failures=1, break_duration=2)
    await run(breaker, "f")
    with pytest.raises(CircuitOpen):
        await breaker.execute(ok)
    clock.advance(2)
    await run(breaker, "s")
    changes = [e for e in recorder.events if isinstance(e, CircuitStateChanged)]
    assert [(e.from_state, e.to_state) for e in changes] == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]
    assert "1 consecutive failures" in changes[0].reason
    assert all(e.source == "db" for e in changes)
    rejected = [e for e in recorder.events if isinstance(e, CircuitCallRejected)]
    assert len(rejected) == 1
    assert rejected[0].retry_after == pytest.approx(2)


def test_core_api_without_a_wrapped_call(clock: FakeClock) -> None:
    breaker = make(
        clock, failure_rate_threshold=None, slow_call_duration=0.5, slow_call_rate_threshold=1.0,
        minimum_calls=1,
    )  # fmt: skip
    ticket = breaker.admit()
    breaker.record_success(ticket, duration=0.1)
    assert breaker.state is CircuitState.CLOSED
    ticket = breaker.admit()
    breaker.record_success(ticket, duration=0.9)  # slow: 1 of 2 slow < 100 %
    breaker.record_failure(breaker.admit(), duration=0.7)  # slow failure
    assert breaker.stats().slow_calls == 2
    assert breaker.state is CircuitState.CLOSED
