from __future__ import annotations

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import CircuitOpen, ConfigError
from meshkit.events import EventBus
from meshkit.resilience import Fallback, FallbackOptions, FallbackUsed, OutcomeFilter
from meshkit.testing import EventRecorder


async def down() -> str:
    raise ConnectionError("down")


def test_a_fallback_needs_a_source() -> None:
    with pytest.raises(ConfigError, match="value"):
        FallbackOptions()
    with pytest.raises(ConfigError, match="max_age"):
        FallbackOptions(value=1, max_age=0)


async def test_value_answers_failures_including_rejections(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    fallback = Fallback(FallbackOptions(value="cached"), clock=clock, events=bus)
    assert await fallback.execute(down) == "cached"

    async def rejected() -> str:
        raise CircuitOpen("open")

    assert await fallback.execute(rejected) == "cached"
    used = recorder.of(FallbackUsed)
    assert [e.source_kind for e in used] == ["value", "value"]
    assert used[0].failure == "ConnectionError: down"


async def test_factory_gets_the_error_and_may_be_async(clock: FakeClock) -> None:
    async def answer(error: BaseException | None) -> str:
        return f"fallback for {type(error).__name__}"

    fallback: Fallback[str] = Fallback(FallbackOptions(factory=answer), clock=clock)
    assert await fallback.execute(down) == "fallback for ConnectionError"
    with pytest.raises(ConfigError, match="async"):
        fallback.execute_sync(lambda: 1 / 0)


async def test_last_good_result_within_max_age(clock: FakeClock) -> None:
    fallback = Fallback(FallbackOptions(last_good=True, max_age=10, value="default"), clock=clock)
    assert await fallback.execute(down) == "default"  # nothing good seen yet

    async def fresh() -> str:
        return "v1"

    assert await fallback.execute(fresh) == "v1"
    clock.advance(5)
    assert await fallback.execute(down) == "v1"
    clock.advance(6)
    assert await fallback.execute(down) == "default"  # too old


async def test_unhandled_failures_pass_unchanged(clock: FakeClock) -> None:
    fallback = Fallback(
        FallbackOptions(value=0, handle=OutcomeFilter(exceptions=(TimeoutError,))), clock=clock
    )
    with pytest.raises(ConnectionError) as info:
        await fallback.execute(down)
    assert info.value.__traceback__ is not None


def test_result_predicate_and_sync(clock: FakeClock) -> None:
    fallback = Fallback(
        FallbackOptions(value=200, handle=OutcomeFilter(result_predicate=lambda s: s >= 500)),
        clock=clock,
    )
    assert fallback.execute_sync(lambda: 503) == 200
    assert fallback.execute_sync(lambda: 404) == 404
