from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from meshkit.errors import ConfigError
from meshkit.resilience import Policy, PolicyKind
from meshkit.resilience.pipeline import Pipeline

T = TypeVar("T")


class Tracing:
    """A pass-through policy that records the order in which it was entered."""

    def __init__(self, kind: PolicyKind, trail: list[str], name: str | None = None) -> None:
        self._kind = kind
        self._name = name or kind.name.lower()
        self.trail = trail

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> PolicyKind:
        return self._kind

    async def execute(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        self.trail.append(self._name)
        return await fn(*args, **kwargs)

    def execute_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        self.trail.append(self._name)
        return fn(*args, **kwargs)


def policies(trail: list[str]) -> list[Policy]:
    return [Tracing(kind, trail) for kind in PolicyKind]


async def test_declared_order_is_kept() -> None:
    trail: list[str] = []
    given = list(reversed(policies(trail)))
    pipeline = Pipeline(*given)

    async def call(a: int, *, b: int) -> int:
        trail.append("call")
        return a - b

    assert await pipeline.execute(call, 5, b=2) == 3
    assert trail == [p.name for p in given] + ["call"]


async def test_default_order_sorts_by_kind_stably() -> None:
    trail: list[str] = []
    shuffled = policies(trail)[::2] + policies(trail)[1::2]
    extra = Tracing(PolicyKind.RETRY, trail, name="retry-2")
    pipeline = Pipeline.default(*shuffled, extra)
    assert [p.kind for p in pipeline.policies] == sorted(p.kind for p in pipeline.policies)
    retries = [p.name for p in pipeline.policies if p.kind is PolicyKind.RETRY]
    assert retries == ["retry", "retry-2"]
    assert [k.name for k in PolicyKind][:3] == ["FALLBACK", "BULKHEAD", "TOTAL_TIMEOUT"]


async def test_decorates_coroutine_functions_and_keeps_metadata() -> None:
    trail: list[str] = []
    pipeline = Pipeline(*policies(trail)[:2])

    @pipeline
    async def fetch(order_id: str) -> str:
        """Fetch an order."""
        return f"order {order_id}"

    assert await fetch("42") == "order 42"
    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch an order."
    assert trail == ["fallback", "bulkhead"]


def test_decorates_and_wraps_plain_functions() -> None:
    trail: list[str] = []
    pipeline = Pipeline(*policies(trail)[:3])

    @pipeline
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    assert pipeline.execute_sync(pow, 2, 10) == 1024
    assert trail == ["fallback", "bulkhead", "total_timeout"] * 2


async def test_caller_exception_passes_through_unchanged() -> None:
    pipeline = Pipeline(*policies([]))
    error = LookupError("mine")

    async def fail() -> None:
        raise error

    with pytest.raises(LookupError) as info:
        await pipeline.execute(fail)
    assert info.value is error


async def test_unhashable_callables_still_run() -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        async def __call__(self) -> str:
            return "ran"

    assert await Pipeline(*policies([])).execute(Unhashable()) == "ran"


@pytest.mark.parametrize("factory", [Pipeline, Pipeline.default])
def test_non_policies_are_rejected_by_position(factory: Callable[..., Pipeline]) -> None:
    with pytest.raises(ConfigError, match=r"pipeline entry 1 is 'retry'"):
        factory(Tracing(PolicyKind.RETRY, []), "retry")
