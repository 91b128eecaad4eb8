"""Hot-path request statistics: plain counters and pre-bound histogram buckets.

A :class:`RequestStats` belongs to one thing being measured (a route, a service, an endpoint)
and is found once — bound to the route or endpoint object — not looked up by labels per
request. Recording a request is a list increment for its status class and a bisection into
fixed latency buckets: no locks (one event loop), no allocation. A Prometheus collector reads
the numbers at scrape time (:mod:`meshkit.observability.collector`).
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["LATENCY_BUCKETS", "STATUS_CLASSES", "RequestStats", "stats_of"]

LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds, seconds (Prometheus ``le``); a last bucket holds everything slower."""

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "error")
"""``error``: the request got no HTTP status (connect failure, reset, timeout)."""


class RequestStats:
    """Counts by status class, a latency histogram, and requests in flight."""

    __slots__ = ("buckets", "by_class", "in_flight", "latency_sum")

    def __init__(self) -> None:
        self.by_class = [0] * len(STATUS_CLASSES)
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.in_flight = 0

    def record(self, status: int | None, latency: float) -> None:
        """One request ended with ``status`` (``None``: no answer) after ``latency`` s."""
        self.by_class[status // 100 - 1 if status is not None and 100 <= status < 600 else 5] += 1
        bucket = 0  # the first bound >= latency (a scan: most requests stop at the first few)
        for bound in LATENCY_BUCKETS:
            if latency <= bound:
                break
            bucket += 1
        self.buckets[bucket] += 1
        self.latency_sum += latency

    @property
    def count(self) -> int:
        return sum(self.by_class)

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        """``(le, cumulative count)`` pairs, ``+Inf`` last, as Prometheus wants them."""
        out, running = [], 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self.buckets, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


def stats_of(holder: Any) -> RequestStats:
    """The statistics bound to ``holder`` (an endpoint, say) in its ``stats`` slot, made on
    first use."""
    stats: RequestStats | None = holder.stats
    if stats is None:
        stats = holder.stats = RequestStats()
    return stats
