"""CallableCheck: sync and async functions, and how their answers are read."""

from __future__ import annotations

import threading

import pytest

from meshkit.health import CallableCheck, CheckResult, CheckTarget, HealthStatus
from meshkit.health.function import as_result

TARGET = CheckTarget(instance_id="i-1", host="127.0.0.1", port=8080)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, HealthStatus.PASSING),
        (False, HealthStatus.CRITICAL),
        (HealthStatus.WARNING, HealthStatus.WARNING),
        (CheckResult.warning("slow"), HealthStatus.WARNING),
        (None, HealthStatus.CRITICAL),
        ("yes", HealthStatus.CRITICAL),
        (1, HealthStatus.CRITICAL),
    ],
)
def test_answers_are_read_strictly(value: object, expected: HealthStatus) -> None:
    assert as_result(value).status is expected


def test_an_unexpected_answer_is_explained() -> None:
    assert "returned None" in as_result(None).reason


async def test_async_function_gets_the_target() -> None:
    seen: list[CheckTarget] = []

    async def probe(target: CheckTarget) -> HealthStatus:
        seen.append(target)
        return HealthStatus.WARNING

    assert (await CallableCheck(probe).check(TARGET)).status is HealthStatus.WARNING
    assert seen == [TARGET]


async def test_sync_function_runs_on_a_worker_thread() -> None:
    threads: list[threading.Thread] = []

    def probe(target: CheckTarget) -> bool:
        threads.append(threading.current_thread())
        return True

    assert (await CallableCheck(probe).check(TARGET)).status is HealthStatus.PASSING
    assert threads != [threading.main_thread()]


async def test_sync_function_inline_when_asked() -> None:
    threads: list[threading.Thread] = []

    def probe(target: CheckTarget) -> bool:
        threads.append(threading.current_thread())
        return False

    result = await CallableCheck(probe, in_thread=False).check(TARGET)
    assert result == CheckResult.critical("check returned False")
    assert threads == [threading.current_thread()]


async def test_callable_object_with_async_call() -> None:
    class Probe:
        async def __call__(self, target: CheckTarget) -> bool:
            return True

    assert (await CallableCheck(Probe()).check(TARGET)).status is HealthStatus.PASSING


async def test_errors_propagate_to_run_check() -> None:
    async def boom(target: CheckTarget) -> bool:
        raise ValueError("down")

    with pytest.raises(ValueError, match="down"):
        await CallableCheck(boom).check(TARGET)
