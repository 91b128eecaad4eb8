"""Python filters: custom request and response steps, written as async functions.

What nginx needs Lua for and Envoy WASM: a route lists filters by reference
(``"package.module:function"``), resolved and checked when the config loads.

Contract
--------
* A **request filter** is ``async def f(request: FilterRequest) -> Reply | None``. It may
  read and change ``request.headers``, ``request.path`` and ``request.query``; returning a
  :class:`Reply` answers the client at once (an auth check saying 401) and nothing goes
  upstream. Filters run in order; the first reply wins.
* A **response filter** is ``async def f(response: FilterResponse) -> None``. It may change
  ``response.status`` and ``response.headers`` before anything reaches the client (bodies
  stream through untouched).

Where filters come from: a reference imports like an application's module does. The config
file's directory and the working directory are on the import path (the loader puts them
there), so ``myapp/filters.py`` next to ``mesh.yaml`` needs no ``PYTHONPATH``. A reload imports
a referenced module again when its file changed since it was imported (only that module, not
modules it imports in turn), so an edited filter takes effect with the config that names it.

Isolation: each filter runs under ``timeout`` seconds; one that raises or runs late answers
the client 500 with the request id (its traceback goes to the log, never to the client), and
the connection stays usable. Header values with CR, LF or NUL are refused (that would be
response splitting). Routes without filters pay nothing: no task is made for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

__all__ = [
    "FilterFailed",
    "FilterRequest",
    "FilterResponse",
    "Headers",
    "Reply",
    "RequestFilter",
    "ResponseFilter",
    "load_filter",
    "run_request_filters",
    "run_response_filters",
]

_log = logging.getLogger("meshkit.gateway.filters")
_FORBIDDEN = ("\r", "\n", "\x00")


class FilterFailed(Exception):
    """A filter raised, or did not finish within its timeout."""


class Headers:
    """Header fields as ``str`` (names case-insensitive), over the gateway's own list."""

    def __init__(self, fields: list[tuple[bytes, bytes]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower().encode("latin-1")
        for field_name, value in self.fields:
            if field_name == key:
                return value.decode("latin-1")
        return default

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` by one with ``value``."""
        self.remove(name)
        self.add(name, value)

    def add(self, name: str, value: str) -> None:
        if any(c in name or c in value for c in _FORBIDDEN) or ":" in name:
            raise ValueError(f"header {name!r} holds a forbidden character")
        self.fields.append((name.lower().encode("latin-1"), value.encode("latin-1")))

    def remove(self, name: str) -> None:
        key = name.lower().encode("latin-1")
        self.fields[:] = [(k, v) for k, v in self.fields if k != key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for name, value in self.fields:
            yield name.decode("latin-1"), value.decode("latin-1")


@dataclass(slots=True)
class FilterRequest:
    method: str
    path: str
    query: str
    headers: Headers
    client: str
    route: str


@dataclass(slots=True)
class FilterResponse:
    status: int
    headers: Headers
    request: FilterRequest


@dataclass(slots=True)
class Reply:
    """An answer a request filter gives instead of the upstream's. ``body``: bytes, text,
    or a JSON-able value."""

    status: int
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        headers = Headers([])
        for name, value in self.headers.items():
            headers.set(name, value)
        body = self.body
        if isinstance(body, dict | list):
            data = json.dumps(body).encode()
            if "content-type" not in headers:
                headers.set("content-type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
            if "content-type" not in headers:
                headers.set("content-type", "text/plain; charset=utf-8")
        else:
            data = body
        return data, headers.fields


RequestFilter = Callable[[FilterRequest], Awaitable[Reply | None]]
ResponseFilter = Callable[[FilterResponse], Awaitable[None]]


def load_filter(reference: str) -> Callable[..., Awaitable[Any]]:
    """Resolve ``"package.module:function"`` to an async function, or raise ``ValueError``."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{reference!r} is not 'package.module:function'")
    try:
        module = _fresh_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"cannot import {module_name!r}: {exc} (looked in the config file's directory, "
            "the working directory and the installed packages)"
        ) from None
    except Exception as exc:  # the module itself failed while it ran: say so, not a traceback
        raise ValueError(f"importing {module_name!r} failed: {exc!r}") from None
    function = getattr(module, attribute, None)
    if function is None:
        raise ValueError(f"{module_name!r} has no {attribute!r}")
    if not inspect.iscoroutinefunction(function):
        raise ValueError(f"{reference!r} must be an async function")
    return function  # type: ignore[no-any-return]


# The file a filter module was imported from, as (mtime_ns, size) at that time.
_imported: dict[str, tuple[int, int] | None] = {}


def _fresh_module(name: str) -> ModuleType:
    """The module ``name``, imported again if its file changed since meshkit last saw it."""
    importlib.invalidate_caches()  # a module file created since the last look is found
    module = sys.modules.get(name)
    if module is None:
        module = importlib.import_module(name)
    elif name in _imported and _file_stamp(module) != _imported[name]:
        source = getattr(module, "__file__", None)
        if source:
            # The cached bytecode is keyed by whole seconds and size: an edit within the same
            # second that keeps the size would otherwise bring back the old code.
            with contextlib.suppress(OSError, ValueError, NotImplementedError):
                os.unlink(importlib.util.cache_from_source(source))
        module = importlib.reload(module)
    _imported[name] = _file_stamp(module)
    return module


def _file_stamp(module: ModuleType) -> tuple[int, int] | None:
    try:
        status = os.stat(module.__file__ or "")
    except (OSError, TypeError):
        return None
    return status.st_mtime_ns, status.st_size


async def run_request_filters(
    filters: tuple[RequestFilter, ...], request: FilterRequest, timeout: float
) -> Reply | None:
    for function in filters:
        reply = await _guarded(function, request, timeout)
        if reply is not None:
            if not isinstance(reply, Reply):
                raise FilterFailed(f"{_name(function)} returned {reply!r}, not a Reply or None")
            return reply
    return None


async def run_response_filters(
    filters: tuple[ResponseFilter, ...], response: FilterResponse, timeout: float
) -> None:
    for function in filters:
        await _guarded(function, response, timeout)


async def _guarded(function: Callable[[Any], Awaitable[Any]], argument: Any, timeout: float) -> Any:
    try:
        async with asyncio.timeout(timeout):
            return await function(argument)
    except TimeoutError:
        raise FilterFailed(f"{_name(function)} did not finish within {timeout:g}s") from None
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        _log.exception("filter %s failed", _name(function))
        raise FilterFailed(f"{_name(function)} failed: {exc!r}") from exc


def _name(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', function)}"
