"""Routing: match a request's host, path, method and headers to a route, precompiled.

Routes are tried in order; the first match wins. A request no route takes is a 404 — or a
405 with ``Allow`` when routes want its path with other methods. Each route's conditions are
compiled once (lowercased host, method set, regex object), so matching a request costs a few
comparisons per route tried. A route sends to a registered service and may rewrite the path prefix.
"""

from __future__ import annotations

import random
import re
import urllib.parse
from dataclasses import dataclass, field

from meshkit.gateway.filter_chain import FilterChain
from meshkit.gateway.http1 import RequestHead
from meshkit.observability.stats import RequestStats
from meshkit.resilience.bulkhead.core import BulkheadCore
from meshkit.resilience.timeout.policy import Timeout

__all__ = ["Route", "Router"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """Conditions: ``prefix`` / ``path`` (exact) / ``regex`` on the path (bytes), ``host``,
    ``methods``, and exact values of ``headers``, ``query`` parameters and ``cookies`` (the
    way to send a tester or a header-flagged client to a version). Target: ``service``, or a
    weighted ``split`` between services (canary, blue-green). Rewrites: the matched
    ``prefix`` → ``rewrite_prefix``, the Host → ``rewrite_host``. ``chain``: its filters
    (rate limit, Python filters, identity, header edits; see
    :mod:`~meshkit.gateway.filter_chain`); ``bulkhead``: the library's bulkhead core, which
    admits, queues (for ``max_queue_wait``) or refuses its requests."""

    name: str
    service: str = ""
    split: tuple[tuple[str, float], ...] = ()  # (service, cumulative weight)
    query: tuple[tuple[bytes, bytes], ...] = ()
    cookies: tuple[tuple[bytes, bytes], ...] = ()
    rewrite_host: bytes | None = None
    prefix: bytes | None = None
    path: bytes | None = None
    regex: re.Pattern[bytes] | None = None
    host: bytes | None = None
    methods: frozenset[bytes] = frozenset()
    headers: tuple[tuple[bytes, bytes], ...] = ()
    rewrite_prefix: bytes | None = None
    timeout: Timeout | None = field(default=None, compare=False)  # the route's own deadline
    bulkhead: BulkheadCore | None = field(default=None, compare=False)
    retry_non_idempotent: bool = False
    chain: FilterChain = field(default_factory=FilterChain, compare=False)
    stats: RequestStats = field(default_factory=RequestStats, compare=False)

    def matches(self, head: RequestHead, *, any_method: bool = False) -> bool:
        """Whether ``head`` is for this route (``any_method``: whatever its method)."""
        path = head.path
        if self.path is not None and path != self.path:
            return False
        if self.prefix is not None and not path.startswith(self.prefix):
            return False
        if self.regex is not None and self.regex.fullmatch(path) is None:
            return False
        if self.host is not None and head.host.split(b":", 1)[0].lower() != self.host:
            return False
        if self.methods and not any_method and head.method not in self.methods:
            return False
        if not all(head.header(name) == value for name, value in self.headers):
            return False
        if self.query:
            given = dict(urllib.parse.parse_qsl(head.query.decode("latin-1")))
            if not all(given.get(k.decode()) == v.decode() for k, v in self.query):
                return False
        if self.cookies:
            jar = _cookies(head.header(b"cookie") or b"")
            return all(jar.get(name) == value for name, value in self.cookies)
        return True

    def pick_service(self, rng: random.Random) -> str:
        """The service for one request: the route's, or a weighted draw from its split."""
        if not self.split:
            return self.service
        draw = rng.random() * self.split[-1][1]
        for service, upto in self.split:
            if draw < upto:
                return service
        return self.split[-1][0]

    def upstream_target(self, head: RequestHead) -> bytes:
        """The target to send upstream, after the prefix rewrite."""
        path = head.path
        if self.rewrite_prefix is not None and self.prefix is not None:
            path = self.rewrite_prefix + path[len(self.prefix) :]
            if not path.startswith(b"/"):
                path = b"/" + path
        return path + b"?" + head.query if head.query else path


def _cookies(header: bytes) -> dict[bytes, bytes]:
    jar = {}
    for part in header.split(b";"):
        name, sep, value = part.strip().partition(b"=")
        if sep:
            jar[name] = value.strip(b'"')
    return jar


class Router:
    """The first route that matches, or ``None``."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = tuple(routes)

    def match(self, head: RequestHead) -> Route | None:
        for route in self.routes:
            if route.matches(head):
                return route
        return None

    def allowed(self, head: RequestHead) -> list[bytes]:
        """After ``match`` found nothing: the methods routes would take for this path (a
        405's ``Allow``), none if no route wants the path at all (a 404)."""
        methods: set[bytes] = set()
        for route in self.routes:
            if route.matches(head, any_method=True):
                methods |= route.methods
        return sorted(methods)
