"""A pipeline composes policies around a call, outermost first.

``Pipeline(a, b, c)`` runs ``a(b(c(call)))`` in the order given. ``Pipeline.default(...)``
sorts the policies into the recommended order (see :class:`PolicyKind`):

    fallback → bulkhead → total timeout → rate limit → retry / hedging → breaker
    → attempt timeout → call

Composition happens once: each policy's ``execute`` receives the next stage as ``fn`` and
forwards the call's arguments, so a decorated function pays for the policies and nothing else
on every call — no closures or lists are built per call.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, overload

from meshkit.errors import ConfigError
from meshkit.resilience._policy import Policy

__all__ = ["Pipeline"]

P = ParamSpec("P")
T = TypeVar("T")

_CHAIN_CACHE_SIZE = 256  # ad-hoc `execute(fn)` chains kept per pipeline (functions reused often)


class Pipeline:
    """Policies composed around a call; usable as a decorator or a call wrapper."""

    __slots__ = ("_async_chains", "_policies", "_sync_chains")

    def __init__(self, *policies: Policy) -> None:
        for index, policy in enumerate(policies):
            if not isinstance(policy, Policy):
                raise ConfigError(
                    f"pipeline entry {index} is {policy!r}, which is not a policy "
                    "(needs name, kind, execute and execute_sync)",
                    option=f"policies[{index}]",
                )
        self._policies: tuple[Policy, ...] = policies
        self._async_chains: dict[Callable[..., Any], Callable[..., Awaitable[Any]]] = {}
        self._sync_chains: dict[Callable[..., Any], Callable[..., Any]] = {}

    @classmethod
    def default(cls, *policies: Policy) -> Pipeline:
        """Build a pipeline with ``policies`` sorted into the recommended order.

        The sort is stable: two policies of the same kind keep the order given.
        """
        for index, policy in enumerate(policies):
            if not isinstance(policy, Policy):
                raise ConfigError(
                    f"pipeline entry {index} is {policy!r}, which is not a policy",
                    option=f"policies[{index}]",
                )
        return cls(*sorted(policies, key=lambda p: p.kind))

    @property
    def policies(self) -> tuple[Policy, ...]:
        return self._policies

    # -- running calls ---------------------------------------------------------------------
    async def execute(
        self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``await fn(*args, **kwargs)`` through every policy."""
        chain = _lookup(self._async_chains, fn)
        if chain is None:
            chain = _remember(self._async_chains, fn, self._build_async(fn))
        result: T = await chain(*args, **kwargs)
        return result

    def execute_sync(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the plain function ``fn(*args, **kwargs)`` through every policy."""
        chain = _lookup(self._sync_chains, fn)
        if chain is None:
            chain = _remember(self._sync_chains, fn, self._build_sync(fn))
        result: T = chain(*args, **kwargs)
        return result

    @overload
    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a coroutine function or a plain function with this pipeline."""
        if inspect.iscoroutinefunction(fn):
            async_chain = self._build_async(fn)

            @functools.wraps(fn)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await async_chain(*args, **kwargs)

            return run_async
        sync_chain = self._build_sync(fn)

        @functools.wraps(fn)
        def run_sync(*args: P.args, **kwargs: P.kwargs) -> Any:
            return sync_chain(*args, **kwargs)

        return run_sync

    # -- composition -------------------------------------------------------------------------
    def _build_async(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        chain: Callable[..., Awaitable[Any]] = fn
        for policy in reversed(self._policies):
            chain = functools.partial(policy.execute, chain)
        return chain

    def _build_sync(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        chain: Callable[..., Any] = fn
        for policy in reversed(self._policies):
            chain = functools.partial(policy.execute_sync, chain)
        return chain

    def __repr__(self) -> str:
        inner = ", ".join(f"{p.kind.name.lower()}:{p.name}" for p in self._policies)
        return f"Pipeline({inner})"


def _lookup(cache: dict[Any, T], fn: Callable[..., Any]) -> T | None:
    try:
        return cache.get(fn)
    except TypeError:  # an unhashable callable is simply never cached
        return None


def _remember(cache: dict[Any, T], fn: Callable[..., Any], chain: T) -> T:
    if len(cache) >= _CHAIN_CACHE_SIZE:
        cache.pop(next(iter(cache)))  # oldest first; plenty for the functions a service calls
    with contextlib.suppress(TypeError):
        cache[fn] = chain
    return chain
