"""The request path's phases, and the filters a route plugs into them.

Phases
------
Every request through the gateway takes the same fixed sequence of named phases, each a
method of :class:`~meshkit.gateway.exchange.Exchange`:

1. **arrive** — the head is parsed (and its path normalised); the request gets its id.
2. **route** — the first matching route takes it (404, or 405 with ``Allow``, if none); the
   route's bulkhead admits it, queues it, or refuses it (503).
3. **request filters** — the route's request chain runs, in order (below).
4. **upstream select** — a service is picked (weighted split), the client waiting with
   ``Expect: 100-continue`` is told to go on, a small body is read whole, the deadline is
   armed, and an endpoint is leased from the service (balancer, breakers, outlier state).
5. **upstream request** — a pooled connection (or a new one) carries the request head and
   body; a failure or a retryable answer goes back to 4 if the service's retry policy says so.
6. **response filters** — on the upstream's response head, the route's response chain runs
   before anything reaches the client; the body then streams through.
7. **log** — however the request ended (answered, relayed, cut, abandoned), it is counted
   once and the route's log filters see it.

Filters
-------
A *filter* is one object implementing the :class:`Filter` trait. A route's chain is
assembled once, when its config loads (:class:`FilterChain`): each filter is put in the
request, response and log lists only for the hooks it has (:meth:`Filter.hooks`), so a filter
a route does not configure — and a hook a filter does not have — costs nothing per request.
The built-in filters (:mod:`~meshkit.gateway.builtin_filters`, compiled) are the rate limit,
the Python filters of a route (``filters:`` in the config), the identity headers for the
upstream (``X-Forwarded-*``, ``X-Request-ID``, ``traceparent``) and the header edits.

The contract of a hook:

* ``on_request(exchange)`` returns :data:`CONTINUE` (the next filter runs), :data:`ANSWERED`
  (it answered the client itself through :meth:`Exchange.answer` or :meth:`Exchange.reply`:
  nothing goes upstream and the rest of the chain is skipped), or :data:`PAUSED` (it started
  async work and will call :meth:`Exchange.resume_request` — or answer — when done; until
  then the request waits, its body held). It may change ``exchange.head`` (path, query,
  fields) and append raw lines for the upstream to ``exchange.upstream_lines``.
* ``on_response(exchange, response)`` runs on the upstream's head before it is framed for
  the client, the chain walked backwards (the response passes back through the filters the
  request came through, as in Envoy). It may change ``response.status`` and
  ``response.headers``, and returns :data:`CONTINUE` or :data:`PAUSED` (then
  :meth:`Exchange.resume_response`; body bytes that arrive meanwhile are held), or calls
  :meth:`Exchange.response_failed` to answer an error instead of the response.
* ``on_log(exchange)`` runs once, last, with the outcome (``exchange.status``: ``None`` for a
  request cut or abandoned). It must not raise.

Filters run inside socket callbacks: a hook must not block. Work that waits (a remote check,
a cache read) pauses. What comes next — response caching, idempotency keys, access logs,
spans, mirroring, fault injection — is a new filter, not an edit to the exchange.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from mypy_extensions import trait

if TYPE_CHECKING:
    from meshkit.gateway.exchange import Exchange

__all__ = [
    "ANSWERED",
    "CONTINUE",
    "LOG",
    "PAUSED",
    "REQUEST",
    "RESPONSE",
    "Filter",
    "FilterChain",
    "ResponseEdit",
]

# What a hook returns.
CONTINUE: Final = 0
ANSWERED: Final = 1
PAUSED: Final = 2

# The hooks a filter has (a bit each), for Filter.hooks().
REQUEST: Final = 1
RESPONSE: Final = 2
LOG: Final = 4


class ResponseEdit:
    """The upstream's response head as the response filters see it: its status and its
    fields (names lowercase), which they may change."""

    __slots__ = ("headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.headers = headers


@trait
class Filter:
    """One step of a route's chain; see the module docstring for the contract. (A trait: a
    compiled build calls the hooks directly, as it does a connection's sink.)"""

    def hooks(self) -> int:
        """Which hooks this filter has: ``REQUEST | RESPONSE | LOG`` bits."""
        return 0

    def on_request(self, exchange: Exchange) -> int:
        return CONTINUE

    def on_response(self, exchange: Exchange, response: ResponseEdit) -> int:
        return CONTINUE

    def on_log(self, exchange: Exchange) -> None:
        return None


class FilterChain:
    """A route's filters, sorted by hook, in the order the route lists them."""

    __slots__ = ("filters", "log", "request", "response")

    def __init__(self, filters: Iterable[Filter] = ()) -> None:
        self.filters: tuple[Filter, ...] = tuple(filters)
        self.request = tuple(f for f in self.filters if f.hooks() & REQUEST)
        # the response passes back through the chain: last filter first (as in Envoy)
        self.response = tuple(f for f in reversed(self.filters) if f.hooks() & RESPONSE)
        self.log = tuple(f for f in self.filters if f.hooks() & LOG)

    def __repr__(self) -> str:
        names = ", ".join(type(f).__name__ for f in self.filters)
        return f"FilterChain({names})"
