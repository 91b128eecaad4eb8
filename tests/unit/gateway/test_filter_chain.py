"""A route's filter chain, assembled at load: only what the route configures, in the
documented order, responses walking it backwards."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshkit.gateway import parse_config
from meshkit.gateway.builtin_filters import HeaderEdits, Identity, PythonFilters, RateLimit
from meshkit.gateway.filter_chain import (
    LOG,
    REQUEST,
    RESPONSE,
    Filter,
    FilterChain,
)
from meshkit.gateway.router import Route


def _route(route: str) -> Route:
    config = parse_config(f"services: [{{name: a}}]\nroutes:\n  - {route}\n")
    return config.routes[0].build(0)


def _names(filters: tuple[Filter, ...]) -> list[str]:
    return [type(f).__name__ for f in filters]


@pytest.fixture
def filter_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "chain_filters.py").write_text(
        textwrap.dedent("""
        async def check(request):
            return None

        async def stamp(response):
            response.headers.set("x-stamp", "1")
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "chain_filters"
    sys.modules.pop("chain_filters", None)


@pytest.mark.parametrize(
    ("route", "request_hooks", "response_hooks"),
    [
        # nothing configured: only the identity lines for the upstream; no response hook
        ("{name: r, service: a}", ["Identity"], []),
        ("{name: r, service: a, rate_limit: {rate: 5/s}}", ["RateLimit", "Identity"], []),
        (
            "{name: r, service: a, request_headers: {add: {x-a: b}}}",
            ["Identity", "HeaderEdits"],
            [],
        ),
        (
            "{name: r, service: a, response_headers: {remove: [server]}}",
            ["Identity"],
            ["HeaderEdits"],
        ),
        (
            "{name: r, service: a, rate_limit: {rate: 5/s, key: ip},"
            " request_headers: {remove: [cookie]}, response_headers: {add: {x-b: c}}}",
            ["RateLimit", "Identity", "HeaderEdits"],
            ["HeaderEdits"],
        ),
    ],
)
def test_only_what_is_configured_is_in_the_chain(
    route: str, request_hooks: list[str], response_hooks: list[str]
) -> None:
    chain = _route(route).chain
    assert _names(chain.request) == request_hooks
    assert _names(chain.response) == response_hooks
    assert chain.log == ()


def test_python_filters_sit_between_the_limit_and_identity(filter_module: str) -> None:
    chain = _route(
        "{name: r, service: a, rate_limit: {rate: 5/s},"
        f' filters: {{request: ["{filter_module}:check"], response: ["{filter_module}:stamp"]}},'
        " response_headers: {add: {x-b: c}}}"
    ).chain
    assert _names(chain.request) == ["RateLimit", "PythonFilters", "Identity"]
    # the response passes back through the chain: the edits first, then the Python filters
    assert _names(chain.response) == ["HeaderEdits", "PythonFilters"]


def test_a_python_filter_with_only_response_functions_has_no_request_hook(
    filter_module: str,
) -> None:
    chain = _route(
        f'{{name: r, service: a, filters: {{response: ["{filter_module}:stamp"]}}}}'
    ).chain
    assert _names(chain.request) == ["Identity"]
    assert _names(chain.response) == ["PythonFilters"]


@pytest.mark.parametrize(
    ("made", "hooks"),
    [
        (HeaderEdits(), 0),
        (HeaderEdits(request_lines=b"x: y\r\n"), REQUEST),
        (HeaderEdits(response_removed=frozenset({b"server"})), RESPONSE),
        (PythonFilters((), (), 1.0), 0),
        (Identity(), REQUEST),
    ],
)
def test_hooks(made: Filter, hooks: int) -> None:
    assert made.hooks() == hooks
    chain = FilterChain([made])
    assert (made in chain.request, made in chain.response, made in chain.log) == (
        bool(hooks & REQUEST),
        bool(hooks & RESPONSE),
        bool(hooks & LOG),
    )


def test_the_rate_limit_filter_keys() -> None:
    chain = _route("{name: r, service: a, rate_limit: {rate: 5/s, key: 'header:X-Tenant'}}").chain
    limit = chain.request[0]
    assert isinstance(limit, RateLimit)
    assert (limit.by_ip, limit.header) == (False, b"x-tenant")
