"""Limits on what a client may send, and how long it may take; defaults near nginx and Envoy."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit import _validate

__all__ = ["DEFAULT_LIMITS", "GatewayLimits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayLimits:
    """``max_request_line`` bytes (414 beyond), ``max_header_line`` bytes per header and
    ``max_headers_size`` bytes in all, ``max_headers`` fields (431 beyond), ``max_body`` bytes
    (413 beyond); ``header_timeout``: seconds to receive a request's head; ``idle_timeout``:
    seconds a keep-alive connection may sit between requests; ``body_timeout``: seconds the
    client may pause while sending a body."""

    max_request_line: int = 8 * 1024
    max_header_line: int = 8 * 1024
    max_headers_size: int = 64 * 1024
    max_headers: int = 100
    max_body: int = 10 * 1024 * 1024
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    body_timeout: float = 30.0

    def __post_init__(self) -> None:
        for option in ("max_request_line", "max_header_line", "max_headers_size", "max_headers"):
            _validate.between(option, getattr(self, option), 1, 1 << 24)
        _validate.at_least("max_body", self.max_body, 0)
        for option in ("header_timeout", "idle_timeout", "body_timeout"):
            _validate.positive(option, getattr(self, option))


DEFAULT_LIMITS = GatewayLimits()
