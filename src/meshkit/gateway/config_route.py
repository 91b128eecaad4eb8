"""A route's configuration: what it matches, where it sends, and the policies on the way."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from meshkit._units import Seconds
from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.events import EventBus
from meshkit.gateway.builtin_filters import HeaderEdits, PythonFilters, RateLimit, route_chain
from meshkit.gateway.config_base import NAME_PATTERN as _NAME
from meshkit.gateway.config_base import Strict as _Strict
from meshkit.gateway.filter_chain import FilterChain
from meshkit.gateway.filters import load_filter
from meshkit.gateway.http1 import render_fields
from meshkit.gateway.router import Route
from meshkit.ratelimit import Rate, RateLimiter, RateLimitOptions
from meshkit.resilience import Bulkhead, BulkheadOptions, Timeout, TimeoutOptions
from meshkit.resilience.bulkhead.core import BulkheadCore

__all__ = [
    "FiltersConfig",
    "HeaderRewrite",
    "MatchConfig",
    "RateLimitConfig",
    "RouteConfig",
    "SplitConfig",
]


class MatchConfig(_Strict):
    prefix: str | None = None
    """Path prefix a request must start with (a plain string prefix: `/api` also matches
    `/apix`)."""
    path: str | None = None
    """Exact path a request must have."""
    regex: str | None = None
    """Regular expression (Python syntax) the whole path must match."""
    host: str | None = None
    """Host a request must name (case-insensitive, port ignored)."""
    methods: list[str] = Field(default_factory=list)
    """Methods a request may use; empty: any."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Request headers that must have exactly these values (names case-insensitive)."""
    query: dict[str, str] = Field(default_factory=dict)
    """Query parameters that must have exactly these values."""
    cookies: dict[str, str] = Field(default_factory=dict)
    """Cookies that must have exactly these values."""

    @field_validator("prefix", "path")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class RateLimitConfig(_Strict):
    """``rate`` like ``"100/second"``; ``key``: ``ip`` (the client address), ``route`` (one
    limit for everyone) or ``header:<name>`` (an API key, a user id)."""

    rate: str
    """Requests allowed per period: `100/second`, `10/s`, `1000/minute`, `5/30s`. Over it: 429
    with `Retry-After`."""
    burst: Annotated[int, Field(ge=1)] | None = None
    """Requests admitted at once above the steady rate (`token_bucket` and `gcra` only); absent:
    the rate's count."""
    algorithm: Literal["token_bucket", "gcra", "sliding_log", "sliding_window", "fixed_window"] = (
        "token_bucket"
    )
    """How requests are counted: `token_bucket` and `gcra` allow bursts, `sliding_log` is exact,
    `sliding_window` approximates it in little memory, `fixed_window` resets each period."""
    key: Annotated[str, Field(pattern=r"^(ip|route|header:[A-Za-z0-9-]+)$")] = "ip"
    """Who shares a limit: `ip` (each client address), `route` (everyone together) or
    `header:<name>` (each value of that header, e.g. an API key)."""

    @field_validator("rate")
    @classmethod
    def _parses(cls, value: str) -> str:
        Rate.parse(value)  # ConfigError (a ValueError) names what is wrong
        return value

    @model_validator(mode="after")
    def _builds(self) -> RateLimitConfig:
        # The limiter's own checks (burst only for the buckets, say) run at validation, so
        # that `meshkit validate` refuses what `meshkit run` would.
        self.build("check")
        return self

    def build(
        self, name: str, *, clock: Clock = SYSTEM_CLOCK, events: EventBus | None = None
    ) -> tuple[RateLimiter, bytes | None]:
        keyed = self.key != "route"
        options = RateLimitOptions(
            rate=Rate.parse(self.rate),
            burst=self.burst,
            algorithm=self.algorithm,
            key=_same if keyed else None,
        )
        header = (
            self.key.split(":", 1)[1].lower().encode() if self.key.startswith("header:") else None
        )
        limiter = RateLimiter(options, name=f"rate_limit:{name}", clock=clock, events=events)
        return limiter, header


def _same(key: object) -> object:
    return key


class SplitConfig(_Strict):
    service: Annotated[str, Field(pattern=_NAME)]
    """Service that receives this share of the requests."""
    weight: Annotated[float, Field(gt=0)]
    """Relative share of the requests (weights need not add up to 100)."""


class HeaderRewrite(_Strict):
    add: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")], str] = Field(
        default_factory=dict
    )
    """Headers to add, `name: value`."""
    remove: list[str] = Field(default_factory=list)
    """Names of headers to remove (case-insensitive)."""

    @field_validator("add")
    @classmethod
    def _printable(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if any(c in text for c in "\r\n\x00"):
                raise ValueError(f"the value of {name!r} holds CR, LF or NUL")
        return value

    def pairs(self) -> tuple[tuple[bytes, bytes], ...]:
        return tuple((k.lower().encode(), v.encode()) for k, v in self.add.items())

    def names(self) -> frozenset[bytes]:
        return frozenset(n.lower().encode() for n in self.remove)


class FiltersConfig(_Strict):
    """Python filters by reference (``package.module:function``), checked at load time."""

    request: list[str] = Field(default_factory=list)
    """Request filters, `package.module:function`, run in order before the request goes upstream;
    one may answer instead."""
    response: list[str] = Field(default_factory=list)
    """Response filters, run in order before the response head goes to the client."""
    timeout: Annotated[Seconds, Field(gt=0, le=60)] = 1.0
    """Time each filter may take; a filter that runs late (or raises) answers 500."""

    @field_validator("request", "response")
    @classmethod
    def _resolvable(cls, value: list[str]) -> list[str]:
        for reference in value:
            load_filter(reference)  # ValueError says what is wrong
        return value


class RouteConfig(_Strict):
    name: Annotated[str, Field(pattern=_NAME)]
    """Unique name of the route (a DNS label); it labels the route's metrics."""
    match: MatchConfig = MatchConfig()
    """Conditions a request must meet, all of them; empty: every request."""
    service: Annotated[str, Field(pattern=_NAME)] | None = None
    """Service to send matching requests to (exactly one of `service` or `split`)."""
    split: list[SplitConfig] = Field(default_factory=list)
    """Services to share matching requests between by weight (canary, blue-green), instead of
    `service`."""
    rewrite_prefix: str | None = None
    """Replaces the matched `match.prefix` in the path sent upstream."""
    rewrite_host: str | None = None
    """Host header sent upstream instead of the client's."""
    request_headers: HeaderRewrite = HeaderRewrite()
    """Headers added to or removed from requests going upstream."""
    response_headers: HeaderRewrite = HeaderRewrite()
    """Headers added to or removed from responses going to the client."""
    timeout: Annotated[Seconds, Field(gt=0)] | None = None
    """Time the upstream has to answer (all attempts together); then 504. Absent: the service's
    `policy.timeout`."""
    rate_limit: RateLimitConfig | None = None
    """Rate limit of the route; absent: none."""
    max_concurrent: Annotated[int, Field(ge=1)] | None = None  # the route's bulkhead...
    """Most requests in flight on the route at once (a bulkhead); absent: no limit."""
    max_queued: Annotated[int, Field(ge=0)] = 0  # ...how many may wait for a slot...
    """Requests that may wait for a slot when `max_concurrent` are in flight; more get 503."""
    max_queue_wait: Annotated[Seconds, Field(gt=0)] = 1.0  # ...and for how long, seconds
    """Longest wait for a slot; then 503."""
    # Retry POST/PATCH too (only if the upstream is known to be safe to repeat them).
    retry_non_idempotent: bool = False
    """Retry POST and PATCH too (only if the upstream is known to be safe to repeat them)."""
    filters: FiltersConfig | None = None
    """Python filters run for the route's requests and responses."""

    @model_validator(mode="after")
    def _one_target(self) -> RouteConfig:
        if (self.service is None) == (not self.split):
            raise ValueError("a route needs exactly one of service or split")
        return self

    @property
    def services(self) -> set[str]:
        return {self.service} if self.service else {s.service for s in self.split}

    def chain(
        self, name: str, *, clock: Clock = SYSTEM_CLOCK, events: EventBus | None = None
    ) -> FilterChain:
        """The route's filters, assembled once (see :mod:`~meshkit.gateway.builtin_filters`):
        only what the route configures is in it."""
        rate_limit = None
        if self.rate_limit is not None:
            limiter, header = self.rate_limit.build(name, clock=clock, events=events)
            rate_limit = RateLimit(limiter, by_ip=self.rate_limit.key == "ip", header=header)
        filters = self.filters
        python = None
        if filters is not None and (filters.request or filters.response):
            python = PythonFilters(
                tuple(load_filter(r) for r in filters.request),
                tuple(load_filter(r) for r in filters.response),
                filters.timeout,
            )
        edits = HeaderEdits(
            request_lines=render_fields(self.request_headers.pairs()),
            request_removed=self.request_headers.names(),
            response_added=self.response_headers.pairs(),
            response_removed=self.response_headers.names(),
        )
        return route_chain(rate_limit=rate_limit, python=python, edits=edits)

    def bulkhead(
        self, name: str, *, clock: Clock = SYSTEM_CLOCK, events: EventBus | None = None
    ) -> BulkheadCore | None:
        """The route's bulkhead: the library's, through its synchronous core."""
        if self.max_concurrent is None:
            return None
        options = BulkheadOptions(
            max_concurrent=self.max_concurrent,
            max_queued=self.max_queued,
            max_queue_wait=self.max_queue_wait,
        )
        return Bulkhead(options, name=f"bulkhead:{name}", clock=clock, events=events).core

    def deadline(
        self, name: str, *, clock: Clock = SYSTEM_CLOCK, events: EventBus | None = None
    ) -> Timeout | None:
        """The route's own deadline (over the service's), reported as the library's is."""
        if self.timeout is None:
            return None
        options = TimeoutOptions(seconds=self.timeout)
        return Timeout(options, name=f"timeout:{name}", clock=clock, events=events)

    def build(
        self, index: int, *, clock: Clock = SYSTEM_CLOCK, events: EventBus | None = None
    ) -> Route:
        match = self.match
        name = self.name or f"route-{index}"
        cumulative, split = 0.0, []
        for part in self.split:
            cumulative += part.weight
            split.append((part.service, cumulative))
        return Route(
            name=name,
            chain=self.chain(name, clock=clock, events=events),
            service=self.service or "",
            split=tuple(split),
            query=tuple((k.encode(), v.encode()) for k, v in match.query.items()),
            cookies=tuple((k.encode(), v.encode()) for k, v in match.cookies.items()),
            rewrite_host=self.rewrite_host.encode() if self.rewrite_host else None,
            prefix=match.prefix.encode() if match.prefix else None,
            path=match.path.encode() if match.path else None,
            regex=re.compile(match.regex.encode()) if match.regex else None,
            host=match.host.lower().encode() if match.host else None,
            methods=frozenset(m.upper().encode() for m in match.methods),
            headers=tuple((k.lower().encode(), v.encode()) for k, v in match.headers.items()),
            rewrite_prefix=self.rewrite_prefix.encode()
            if self.rewrite_prefix is not None
            else None,
            timeout=self.deadline(name, clock=clock, events=events),
            bulkhead=self.bulkhead(name, clock=clock, events=events),
            retry_non_idempotent=self.retry_non_idempotent,
        )
