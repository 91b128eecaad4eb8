"""Routing: match a request's host, path, method and headers to a route, precompiled.

Routes are tried in order; the first match wins. Each route's conditions are compiled once
(lowercased host, method set, regex object), so matching a request costs a few comparisons
per route tried. A route sends to a registered service and may rewrite the path prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from meshkit.gateway.http1 import RequestHead
from meshkit.observability.stats import RequestStats
from meshkit.ratelimit import RateLimiter

__all__ = ["Route", "Router"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """``prefix`` / ``path`` (exact) / ``regex`` on the path (bytes), optional ``host``,
    ``methods`` and exact-valued ``headers``; ``service`` receives the request, with the
    matched ``prefix`` replaced by ``rewrite_prefix`` when that is set; ``rate_limiter``
    counts requests per client address, per a header's value, or for the route as a whole."""

    name: str
    service: str
    prefix: bytes | None = None
    path: bytes | None = None
    regex: re.Pattern[bytes] | None = None
    host: bytes | None = None
    methods: frozenset[bytes] = frozenset()
    headers: tuple[tuple[bytes, bytes], ...] = ()
    rewrite_prefix: bytes | None = None
    timeout: float | None = None
    rate_limiter: RateLimiter | None = None
    limit_by_ip: bool = False
    limit_header: bytes | None = None
    max_concurrent: int | None = None
    stats: RequestStats = field(default_factory=RequestStats, compare=False)

    def limit_key(self, head: RequestHead, peer: str) -> object:
        """Who this request counts against in the route's rate limit."""
        if self.limit_by_ip:
            return peer
        if self.limit_header is not None:
            return head.header(self.limit_header) or b""
        return None

    def matches(self, head: RequestHead) -> bool:
        path = head.path
        if self.path is not None and path != self.path:
            return False
        if self.prefix is not None and not path.startswith(self.prefix):
            return False
        if self.regex is not None and self.regex.fullmatch(path) is None:
            return False
        if self.host is not None and head.host.split(b":", 1)[0].lower() != self.host:
            return False
        if self.methods and head.method not in self.methods:
            return False
        return all(head.header(name) == value for name, value in self.headers)

    def upstream_target(self, head: RequestHead) -> bytes:
        """The target to send upstream, after the prefix rewrite."""
        path = head.path
        if self.rewrite_prefix is not None and self.prefix is not None:
            path = self.rewrite_prefix + path[len(self.prefix) :]
            if not path.startswith(b"/"):
                path = b"/" + path
        return path + b"?" + head.query if head.query else path


class Router:
    """The first route that matches, or ``None``."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = tuple(routes)

    def match(self, head: RequestHead) -> Route | None:
        for route in self.routes:
            if route.matches(head):
                return route
        return None
