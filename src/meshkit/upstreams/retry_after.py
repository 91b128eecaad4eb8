"""``Retry-After`` read into seconds, for the gateway and the httpx transport alike (no HTTP
client library needed: the gateway's data path imports it)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from meshkit.clock import SYSTEM_CLOCK, Clock

__all__ = ["parse_retry_after"]


def parse_retry_after(value: str | None, *, clock: Clock = SYSTEM_CLOCK) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110), the
    date measured against ``clock``'s wall time."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock.time())
