"""Filters for examples/full.yaml and examples/filters.yaml: ``myapp.filters:require_key``
imports from the config file's directory, with no PYTHONPATH."""

from __future__ import annotations

from meshkit.gateway.filters import FilterRequest, FilterResponse, Reply


async def require_key(request: FilterRequest) -> Reply | None:
    """Answer 401 unless the request carries the API key; tell the upstream who called."""
    if request.headers.get("x-api-key") != "secret":
        return Reply(401, {"error": "missing API key"})
    request.headers.set("x-user", "alice")
    return None


async def stamp(response: FilterResponse) -> None:
    """Say which route served the response."""
    response.headers.set("x-route", response.request.route)
