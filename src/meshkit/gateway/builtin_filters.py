"""The gateway's built-in filters (see :mod:`~meshkit.gateway.filter_chain` for the contract).

A route's config names what it wants (``rate_limit``, ``filters``, ``request_headers``,
``response_headers``) and :func:`route_chain` assembles them in this order, once, at load:

* :class:`RateLimit` — refuses a request over the route's rate (429 with ``Retry-After`` and
  the ``RateLimit-*`` fields), per route, per client address or per a header's value;
* :class:`PythonFilters` — the route's Python filters (``package.module:function``, async):
  the request ones pause the chain while they run, and may answer instead; the response ones
  pause the response head;
* :class:`Identity` — what the upstream is told about the request: ``X-Forwarded-For`` /
  ``-Proto`` / ``-Host``, the request id, and ``traceparent`` (always on: a proxy that did not
  say who its client was would break the upstream's logs and traces);
* :class:`HeaderEdits` — the route's request and response header additions and removals.

Identity comes after the Python filters and before the edits, so a filter's change to the
request reaches the forwarding headers, and a route can still remove what it must not send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshkit.gateway.filter_chain import (
    ANSWERED,
    CONTINUE,
    PAUSED,
    REQUEST,
    RESPONSE,
    Filter,
    FilterChain,
    ResponseEdit,
)
from meshkit.gateway.filters import (
    FilterFailed,
    FilterRequest,
    FilterResponse,
    Headers,
    RequestFilter,
    ResponseFilter,
    run_request_filters,
    run_response_filters,
)

if TYPE_CHECKING:
    from meshkit.gateway.exchange import Exchange
    from meshkit.ratelimit import RateLimiter

__all__ = ["HeaderEdits", "Identity", "PythonFilters", "RateLimit", "route_chain"]


class RateLimit(Filter):
    """The route's rate limit. ``by_ip``: one allowance per client address (behind trusted
    proxies, the address they forward for); ``header``: one per value of that field; neither:
    one for the whole route."""

    def __init__(self, limiter: RateLimiter, *, by_ip: bool, header: bytes | None) -> None:
        self.limiter = limiter
        self.by_ip = by_ip
        self.header = header

    def hooks(self) -> int:
        return REQUEST

    def on_request(self, exchange: Exchange) -> int:
        key: object = None
        if self.by_ip:
            key = exchange.client_address()  # (worked out only when a limit asks for it)
        elif self.header is not None:
            key = exchange.head.header(self.header) or b""
        refusal = self.limiter.try_admit(key)
        if refusal is None:
            return CONTINUE
        exchange.answer(429, "rate limited", retry_after=refusal.retry_after,
                        extra=refusal.headers())  # fmt: skip
        return ANSWERED


class Identity(Filter):
    """The forwarding, request-id and trace-context lines for the upstream (see
    :meth:`~meshkit.gateway.gateway.Gateway.forwarding`), made once per request: a retry
    sends the same."""

    def hooks(self) -> int:
        return REQUEST

    def on_request(self, exchange: Exchange) -> int:
        exchange.upstream_lines += exchange.gateway.forwarding(
            exchange.head, exchange.client, exchange.request_id, exchange.serial
        )
        return CONTINUE


class HeaderEdits(Filter):
    """Fields added to and removed from the request (before it goes upstream) and the
    response (before it goes to the client); names lowercase."""

    def __init__(
        self,
        *,
        request_lines: bytes = b"",
        request_removed: frozenset[bytes] = frozenset(),
        response_added: tuple[tuple[bytes, bytes], ...] = (),
        response_removed: frozenset[bytes] = frozenset(),
    ) -> None:
        self.request_lines = request_lines  # rendered once: "name: value\r\n" each
        self.request_removed = request_removed
        self.response_added = response_added
        self.response_removed = response_removed

    def hooks(self) -> int:
        request = REQUEST if self.request_lines or self.request_removed else 0
        response = RESPONSE if self.response_added or self.response_removed else 0
        return request | response

    def on_request(self, exchange: Exchange) -> int:
        removed = self.request_removed
        if removed:
            head = exchange.head
            head.headers = [(k, v) for k, v in head.headers if k not in removed]
        if self.request_lines:
            exchange.upstream_lines.append(self.request_lines)
        return CONTINUE

    def on_response(self, exchange: Exchange, response: ResponseEdit) -> int:
        removed = self.response_removed
        if removed:
            response.headers = [(k, v) for k, v in response.headers if k not in removed]
        response.headers += self.response_added
        return CONTINUE


class PythonFilters(Filter):
    """A route's Python filters (:mod:`~meshkit.gateway.filters`), run as one task per
    phase, each under ``timeout``; one that raises or runs late answers 500."""

    def __init__(
        self,
        request: tuple[RequestFilter, ...],
        response: tuple[ResponseFilter, ...],
        timeout: float,
    ) -> None:
        self.request = request
        self.response = response
        self.timeout = timeout

    def hooks(self) -> int:
        return (REQUEST if self.request else 0) | (RESPONSE if self.response else 0)

    def on_request(self, exchange: Exchange) -> int:
        view = _request_view(exchange, exchange.head.headers)
        exchange.wait_for(self._request(exchange, view))
        return PAUSED

    async def _request(self, exchange: Exchange, view: FilterRequest) -> None:
        try:
            reply = await run_request_filters(self.request, view, self.timeout)
            if reply is None:
                head = exchange.head
                head.path = view.path.encode("latin-1")
                head.query = view.query.encode("latin-1")
        except (FilterFailed, ValueError, UnicodeError):
            exchange.answer(500, "filter failed")
            return
        if reply is not None:
            exchange.reply(reply)
        else:
            exchange.resume_request()

    def on_response(self, exchange: Exchange, response: ResponseEdit) -> int:
        view = FilterResponse(
            status=response.status,
            headers=Headers(response.headers),
            request=_request_view(exchange, list(exchange.head.headers)),
        )
        exchange.wait_for(self._response(exchange, response, view))
        return PAUSED

    async def _response(
        self, exchange: Exchange, response: ResponseEdit, view: FilterResponse
    ) -> None:
        try:
            await run_response_filters(self.response, view, self.timeout)
        except (FilterFailed, ValueError, UnicodeError):
            exchange.response_failed(500, "filter failed")
            return
        response.status = view.status
        response.headers = view.headers.fields
        exchange.resume_response()


def _request_view(exchange: Exchange, headers: list[tuple[bytes, bytes]]) -> FilterRequest:
    head = exchange.head
    return FilterRequest(
        method=head.method.decode("latin-1"),
        path=head.path.decode("latin-1"),
        query=head.query.decode("latin-1"),
        headers=Headers(headers),
        client=exchange.client.peer,
        route=exchange.route_name,
    )


def route_chain(
    *,
    rate_limit: RateLimit | None,
    python: PythonFilters | None,
    edits: HeaderEdits,
    extra: tuple[Filter, ...] = (),
) -> FilterChain:
    """A route's chain, in the documented order; ``extra`` filters (made in code) run after
    the built-in ones."""
    chosen: list[Filter] = []
    if rate_limit is not None:
        chosen.append(rate_limit)
    if python is not None:
        chosen.append(python)
    chosen.append(Identity())
    chosen.append(edits)
    chosen += extra
    return FilterChain(f for f in chosen if f.hooks())
