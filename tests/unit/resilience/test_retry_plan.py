"""Retry.plan: the synchronous decision both faces use, walked without sleeping."""

from __future__ import annotations

import asyncio
import random
from typing import NamedTuple

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError, RateLimited
from meshkit.events import EventBus
from meshkit.resilience import Backoff, RetryOutcome
from meshkit.resilience.retry import Retry, RetryBudget, RetryGaveUp, RetryOptions, RetryScheduled
from meshkit.testing import EventRecorder

CONSTANT = Backoff(kind="constant", base=1.0)
REFUSED = ConnectionRefusedError("refused")


def make(clock: FakeClock, bus: EventBus | None = None, **options: object) -> Retry:
    options.setdefault("backoff", CONSTANT)
    return Retry(RetryOptions(**options), name="api", clock=clock, events=bus)  # type: ignore[arg-type]


class Case(NamedTuple):
    options: dict[str, object]
    attempt: int
    outcome: object
    now: float
    started: float | None
    expected: float | None


CASES = [
    # attempts left
    Case({"max_attempts": 3}, 1, REFUSED, 0.0, None, 1.0),
    Case({"max_attempts": 3}, 2, REFUSED, 0.0, None, 1.0),
    Case({"max_attempts": 3}, 3, REFUSED, 0.0, None, None),
    # Retry-After: longer than the backoff wins; shorter does not shorten it
    Case({}, 1, RetryOutcome("503", retry_after=4.0), 0.0, None, 4.0),
    Case({}, 1, RetryOutcome("503", retry_after=0.5), 0.0, None, 1.0),
    Case({}, 1, RateLimited("slow down", retry_after=2.0), 0.0, None, 2.0),
    # too long a wait ends the retries; not honouring it keeps the backoff
    Case({"max_retry_after": 3.0}, 1, RetryOutcome("503", retry_after=5.0), 0.0, None, None),
    Case({"honor_retry_after": False}, 1, RetryOutcome("503", retry_after=5.0), 0.0, None, 1.0),
    # total time, counted from the first attempt's start
    Case({"max_total_time": 5.0}, 1, REFUSED, 3.5, 0.0, 1.0),
    Case({"max_total_time": 5.0}, 1, REFUSED, 4.5, 0.0, None),
    Case({"max_total_time": 5.0}, 1, REFUSED, 104.5, 100.0, None),
    Case({"max_total_time": 5.0}, 1, REFUSED, 4.5, None, 1.0),  # no start: only the delay
]


@pytest.mark.parametrize("case", CASES)
def test_plan_applies_the_limits_in_order(clock: FakeClock, case: Case) -> None:
    retry = make(clock, **case.options)
    assert retry.plan(case.attempt, case.outcome, case.now, started=case.started) == case.expected


def test_jittered_delays_stay_within_the_backoff_bounds(clock: FakeClock) -> None:
    backoff = Backoff(kind="exponential_full_jitter", base=0.1, max_delay=2.0)
    retry = Retry(RetryOptions(max_attempts=50, backoff=backoff), clock=clock, rng=random.Random(7))
    previous: float | None = None
    for attempt in range(1, 50):
        delay = retry.plan(attempt, REFUSED, 0.0, previous=previous)
        assert delay is not None
        assert 0.0 <= delay <= min(2.0, 0.1 * 2 ** (attempt - 1))
        previous = delay


def test_the_rng_makes_plans_reproducible(clock: FakeClock) -> None:
    backoff = Backoff(kind="decorrelated_jitter", base=0.1, max_delay=5.0)

    def plans(seed: int) -> list[float | None]:
        retry = Retry(
            RetryOptions(max_attempts=6, backoff=backoff), clock=clock, rng=random.Random(seed)
        )
        out: list[float | None] = []
        previous: float | None = None
        for attempt in range(1, 6):
            previous = retry.plan(attempt, REFUSED, 0.0, previous=previous)
            out.append(previous)
        return out

    assert plans(3) == plans(3)


def test_a_budget_refusal_answers_none_and_reports_it(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.1, window=10.0, clock=clock)
    retry = make(clock, bus, max_attempts=5, budget=budget)
    retry.record_request()
    assert retry.plan(1, REFUSED, clock.monotonic()) == 1.0  # the floor allows one retry
    assert retry.plan(2, REFUSED, clock.monotonic()) is None  # never raises
    [gave_up] = recorder.of(RetryGaveUp)
    assert gave_up.reason == "retry budget exhausted"
    assert gave_up.attempts == 2
    assert gave_up.failure == "ConnectionRefusedError: refused"
    assert budget.stats().rejected == 1


def test_plan_emits_what_execute_emits(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    retry = make(clock, bus, max_attempts=2)
    outcome = RetryOutcome("status 503", retry_after=2.5)
    assert retry.plan(1, outcome, 0.0) == 2.5
    assert retry.plan(2, outcome, 2.5) is None
    [scheduled] = recorder.of(RetryScheduled)
    assert (scheduled.source, scheduled.attempt, scheduled.delay, scheduled.failure) == (
        "api",
        1,
        2.5,
        "status 503",
    )
    [gave_up] = recorder.of(RetryGaveUp)
    assert (gave_up.attempts, gave_up.reason, gave_up.failure) == (
        2,
        "all 2 attempts failed",
        "status 503",
    )


def test_any_object_with_retry_after_is_a_hint(clock: FakeClock) -> None:
    class Answer:
        retry_after: float | None = 3.0

    retry = make(clock)
    assert retry.plan(1, Answer(), 0.0) == 3.0
    Answer.retry_after = None
    assert retry.plan(1, Answer(), 0.0) == 1.0


def test_per_try_timeout_is_an_option_checked_positive(clock: FakeClock) -> None:
    assert make(clock, per_try_timeout=0.25).per_try_timeout == 0.25
    assert make(clock).per_try_timeout is None
    with pytest.raises(ConfigError, match="per_try_timeout"):
        RetryOptions(per_try_timeout=0)


async def test_execute_bounds_each_attempt_with_the_per_try_timeout(clock: FakeClock) -> None:
    calls = 0

    async def slow_then_fast() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await clock.sleep(10.0)
        return "ok"

    retry = make(clock, per_try_timeout=1.0, max_attempts=2)
    task = asyncio.ensure_future(retry.execute(slow_then_fast))
    await clock.run_for(5.0)
    assert await task == "ok"
    assert calls == 2
