"""Limits on what a client may send, and how long it may take; defaults near nginx and Envoy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from meshkit import _validate

__all__ = ["DEFAULT_LIMITS", "GatewayLimits", "HalfCloseAction", "UnderscoreAction"]

UnderscoreAction = Literal["drop", "allow", "reject"]
_UNDERSCORE_ACTIONS: Final = ("drop", "allow", "reject")
HalfCloseAction = Literal["answer", "abort"]
_HALF_CLOSE_ACTIONS: Final = ("answer", "abort")


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayLimits:
    """``max_request_line`` bytes (414 beyond), ``max_header_line`` bytes per header and
    ``max_headers_size`` bytes in all, ``max_headers`` fields (431 beyond: all checked as the
    bytes arrive, not once a line is whole), ``max_body`` bytes (413 beyond);
    ``header_timeout``: seconds to receive a request's head; ``idle_timeout``: seconds a
    keep-alive connection may sit between requests; ``body_timeout``: seconds the client may
    pause while sending a body, and the grace it starts with under ``min_body_rate``
    (bytes/s, 0 = off: each byte received extends the body's deadline by ``1/min_body_rate``
    seconds, as Apache's ``RequestReadTimeout body=20,MinRate=500``, so a client trickling a
    byte now and then is cut off). ``request_buffer``: request bodies up to this many bytes
    are read whole before an upstream connection is taken (nginx's
    ``proxy_request_buffering``), so a slow client never holds one; 0 streams every body.
    ``half_closed_clients``: a client that ends its sending side after a request (``nc -N``,
    ``shutdown(SHUT_WR)``) is still ``answer``-ed (HAProxy's default), or its request is
    ``abort``-ed at once with the upstream call (nginx's, Envoy's): a TCP end cannot tell a
    half-close from a client gone for good, so this chooses between answering the first and
    sparing the upstream the work for the second. ``headers_with_underscores``: what to do
    with a header name holding ``_`` (Envoy's ``headers_with_underscores_action``; nginx
    drops them): ``drop`` the field, ``allow``
    it, or ``reject`` the request (400) — ``X_Forwarded_For`` would otherwise collide with
    ``X-Forwarded-For`` in a CGI-style upstream. ``max_connections``: client connections
    open at once; at the limit the gateway stops accepting (new clients wait in the
    listen backlog) instead of accepting and dropping. ``None``: half the open-file limit,
    as each client may need an upstream connection too."""

    max_request_line: int = 8 * 1024
    max_header_line: int = 8 * 1024
    max_headers_size: int = 64 * 1024
    max_headers: int = 100
    max_body: int = 10 * 1024 * 1024
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    body_timeout: float = 30.0
    min_body_rate: float = 500.0
    request_buffer: int = 64 * 1024
    headers_with_underscores: UnderscoreAction = "drop"
    half_closed_clients: HalfCloseAction = "answer"
    max_connections: int | None = None

    def __post_init__(self) -> None:
        for option in ("max_request_line", "max_header_line", "max_headers_size", "max_headers"):
            _validate.between(option, getattr(self, option), 1, 1 << 24)
        _validate.at_least("max_body", self.max_body, 0)
        for option in ("header_timeout", "idle_timeout", "body_timeout"):
            _validate.positive(option, getattr(self, option))
        _validate.at_least("min_body_rate", self.min_body_rate, 0)
        _validate.between("request_buffer", self.request_buffer, 0, 1 << 24)
        _validate.one_of(
            "headers_with_underscores", self.headers_with_underscores, _UNDERSCORE_ACTIONS
        )
        _validate.one_of("half_closed_clients", self.half_closed_clients, _HALF_CLOSE_ACTIONS)
        if self.max_connections is not None:
            _validate.between("max_connections", self.max_connections, 1, 1 << 24)


DEFAULT_LIMITS = GatewayLimits()
