"""Named bulkheads: the critical / normal / background split, so a flood of background work
cannot take the capacity that user-facing calls need."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from meshkit import _validate
from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import ConfigError
from meshkit.events import EventBus
from meshkit.resilience.bulkhead.options import BulkheadOptions
from meshkit.resilience.bulkhead.policy import Bulkhead

__all__ = ["BulkheadPools"]


class BulkheadPools(Mapping[str, Bulkhead]):
    """Named bulkheads, e.g. ``critical`` / ``normal`` / ``background``.

    >>> pools = BulkheadPools.split(100)  # 50 critical, 30 normal, 20 background
    >>> await pools["background"].execute(reindex)
    """

    def __init__(
        self,
        pools: Mapping[str, BulkheadOptions],
        *,
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> None:
        if not pools:
            raise ConfigError("at least one pool is needed", option="pools")
        self._pools = {
            name: Bulkhead(options, name=f"bulkhead:{name}", clock=clock, events=events)
            for name, options in pools.items()
        }

    @classmethod
    def split(
        cls,
        total: int,
        *,
        shares: Mapping[str, float] | None = None,
        queue_factor: float = 1.0,
        max_queue_wait: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
        events: EventBus | None = None,
    ) -> BulkheadPools:
        """Divide ``total`` slots by ``shares`` (default critical 50 %, normal 30 %,
        background 20 %); each pool gets at least one slot and queues ``queue_factor`` times
        its slots."""
        shares = shares or {"critical": 0.5, "normal": 0.3, "background": 0.2}
        _validate.at_least("total", total, len(shares))
        _validate.at_least("queue_factor", queue_factor, 0)
        if any(share <= 0 for share in shares.values()) or sum(shares.values()) > 1 + 1e-9:
            raise ConfigError(
                f"shares must be positive and sum to at most 1, got {dict(shares)!r}",
                option="shares",
            )
        options = {}
        for name, share in shares.items():
            slots = max(1, int(total * share))
            options[name] = BulkheadOptions(
                max_concurrent=slots,
                max_queued=int(slots * queue_factor),
                max_queue_wait=max_queue_wait,
            )
        return cls(options, clock=clock, events=events)

    def __getitem__(self, name: str) -> Bulkhead:
        try:
            return self._pools[name]
        except KeyError:
            known = ", ".join(sorted(self._pools))
            raise KeyError(f"no bulkhead pool {name!r}; pools are: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)
