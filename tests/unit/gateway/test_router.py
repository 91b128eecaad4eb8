"""Routing as a table (no sockets): which route a head matches, the 405's methods, the
weighted split drawn from a seeded random source, and the prefix rewrite."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from meshkit.gateway import parse_config
from meshkit.gateway.http1 import RequestHead, check_head
from meshkit.gateway.router import Router

CONFIG = """
services: [{name: a}, {name: b}, {name: c}]
routes:
  - {name: exact, match: {path: /health}, service: a}
  - {name: admin, match: {prefix: /admin, host: admin.example.com}, service: a}
  - {name: beta, match: {prefix: /api, headers: {x-beta: "1"}}, service: b}
  - {name: tester, match: {prefix: /api, cookies: {tester: "yes"}}, service: b}
  - {name: flag, match: {prefix: /api, query: {v: "2"}}, service: b}
  - {name: write, match: {prefix: /api, methods: [POST, PUT]}, service: c}
  - {name: api, match: {prefix: /api, methods: [GET]}, service: a, rewrite_prefix: /v1}
  - name: items
    match: {regex: "/items/[0-9]+"}
    split: [{service: a, weight: 3}, {service: b, weight: 1}]
"""


@pytest.fixture(scope="module")
def router() -> Router:
    config = parse_config(CONFIG)
    return Router([route.build(i) for i, route in enumerate(config.routes)])


def _head(method: bytes, target: bytes, *fields: tuple[bytes, bytes]) -> RequestHead:
    """A checked head; Host is ``gw.example.com`` unless ``fields`` give one."""
    host = [] if any(name == b"host" for name, _ in fields) else [(b"host", b"gw.example.com")]
    head = RequestHead(method=method, target=target, version="1.1", headers=[*host, *fields])
    check_head(head)
    return head


@pytest.mark.parametrize(
    ("method", "target", "fields", "route"),
    [
        (b"GET", b"/health", (), "exact"),
        (b"GET", b"/healthz", (), None),  # exact means exact
        (b"GET", b"/admin/x", (), None),  # another host
        (b"GET", b"/admin/x", ((b"host", b"ADMIN.example.com:8080"),), "admin"),
        (b"GET", b"/api/x", ((b"x-beta", b"1"),), "beta"),
        (b"GET", b"/api/x", ((b"x-beta", b"2"),), "api"),
        (b"GET", b"/api/x", ((b"cookie", b"a=b; tester=yes"),), "tester"),
        (b"GET", b"/api/x?v=2&w=3", (), "flag"),
        (b"POST", b"/api/x", (), "write"),
        (b"GET", b"/api/x", (), "api"),
        (b"DELETE", b"/api/x", (), None),
        (b"GET", b"/items/42", (), "items"),
        (b"GET", b"/items/4x", (), None),
    ],
)
def test_match(
    router: Router,
    method: bytes,
    target: bytes,
    fields: tuple[tuple[bytes, bytes], ...],
    route: str | None,
) -> None:
    matched = router.match(_head(method, target, *fields))
    assert (matched.name if matched is not None else None) == route


@pytest.mark.parametrize(
    ("method", "target", "allowed"),
    [(b"DELETE", b"/api/x", [b"GET", b"POST", b"PUT"]), (b"GET", b"/nowhere", [])],
)
def test_allowed_methods_for_a_405(
    router: Router, method: bytes, target: bytes, allowed: list[bytes]
) -> None:
    assert router.allowed(_head(method, target)) == allowed


def test_the_split_draws_from_the_injected_random_source(router: Router) -> None:
    items = next(r for r in router.routes if r.name == "items")
    first, second = random.Random(7), random.Random(7)
    picks = [items.pick_service(first) for _ in range(4000)]
    assert picks == [items.pick_service(second) for _ in range(4000)]  # exact, repeatable
    assert 0.72 < Counter(picks)["a"] / 4000 < 0.78  # 3:1


@pytest.mark.parametrize(
    ("target", "upstream"),
    [(b"/api", b"/v1"), (b"/api/x?q=1", b"/v1/x?q=1"), (b"/apix", b"/v1x")],
)
def test_prefix_rewrite(router: Router, target: bytes, upstream: bytes) -> None:
    api = next(r for r in router.routes if r.name == "api")
    assert api.upstream_target(_head(b"GET", target)) == upstream
