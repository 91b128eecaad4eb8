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
    up = False

    async def service() -> str:  # one call, up or down: last good is kept per call
        if not up:
            raise ConnectionError("down")
        return "v1"

    assert await fallback.execute(service) == "default"  # nothing good seen yet
    up = True
    assert await fallback.execute(service) == "v1"
    up = False
    clock.advance(5)
    assert await fallback.execute(service) == "v1"
    clock.advance(6)
    assert await fallback.execute(service) == "default"  # too old


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


async def test_last_good_is_remembered_per_call_arguments(clock: FakeClock) -> None:
    orders = {"41": "order 41", "42": "order 42"}
    up = True

    async def get_order(order_id: str, *, fields: str = "all") -> str:
        if not up:
            raise ConnectionError("down")
        return f"{orders[order_id]} ({fields})"

    fallback: Fallback[str] = Fallback(FallbackOptions(last_good=True, value="none"), clock=clock)
    assert await fallback.execute(get_order, "41") == "order 41 (all)"
    assert await fallback.execute(get_order, "42", fields="id") == "order 42 (id)"
    up = False
    assert await fallback.execute(get_order, "41") == "order 41 (all)"
    assert await fallback.execute(get_order, "42", fields="id") == "order 42 (id)"
    assert await fallback.execute(get_order, "42") == "none"  # never asked this way while up
    assert await fallback.execute(get_order, "43") == "none"  # never order 42's answer

    async def get_user(user_id: str) -> str:
        raise ConnectionError("down")

    assert await fallback.execute(get_user, "41") == "none"  # nor another function's


async def test_last_good_key_function_and_bounded_memory(clock: FakeClock) -> None:
    up = True

    async def fetch(url: str, headers: dict[str, str]) -> str:  # a dict: not hashable
        if not up:
            raise ConnectionError("down")
        return f"body of {url}"

    fallback: Fallback[str] = Fallback(
        FallbackOptions(last_good=True, value="none", key=lambda url, headers: url, max_keys=2),
        clock=clock,
    )
    for url in ("/a", "/b", "/a", "/c"):  # /b is the least recently used when /c comes
        await fallback.execute(fetch, url, {})
    up = False
    assert [await fallback.execute(fetch, url, {"x": "1"}) for url in ("/a", "/b", "/c")] == [
        "body of /a",
        "none",
        "body of /c",
    ]

    unkeyed: Fallback[str] = Fallback(FallbackOptions(last_good=True, value="none"), clock=clock)
    up = True
    assert await unkeyed.execute(fetch, "/a", {}) == "body of /a"
    up = False
    assert await unkeyed.execute(fetch, "/a", {}) == "none"  # unhashable: never remembered


def test_last_good_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="max_keys"):
        FallbackOptions(last_good=True, max_keys=0)
    with pytest.raises(ConfigError, match="key"):
        FallbackOptions(last_good=True, key="order_id")  # type: ignore[arg-type]
