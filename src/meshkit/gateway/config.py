"""The gateway's YAML configuration schema, validated by pydantic before anything starts.

Reading a file (bytes, YAML, duplicate keys) and turning pydantic's errors into
``file:line:column: key.path: reason`` lines is :mod:`meshkit.gateway.config_load`'s job;
checks across keys (unique names, known services) live in :mod:`~.config_checks`. Every field
carries a description (its docstring), from which ``docs/configuration.md`` is generated.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshkit._units import Bytes, Seconds
from meshkit.gateway.config_checks import ConfigProblems, cross_problems
from meshkit.gateway.filters import load_filter
from meshkit.gateway.http1 import render_fields
from meshkit.gateway.limits import GatewayLimits
from meshkit.gateway.router import Route
from meshkit.ratelimit import Rate, RateLimiter, RateLimitOptions
from meshkit.registry.models import HealthCheckSpec, ServicePolicy

__all__ = ["GatewayConfig"]

_NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


class _Strict(BaseModel):
    # Attribute docstrings become field descriptions: the reference docs and the JSON Schema
    # are generated from them, and a line after a field merges more easily than an argument.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class TlsConfig(_Strict):
    """TLS termination: PEM ``cert`` (chain) and ``key`` files, read when the config loads."""

    cert: str
    key: str

    @model_validator(mode="after")
    def _loads(self) -> TlsConfig:
        self.context()  # a missing file or a key that does not match the cert fails here
        return self

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the certificate and key: {exc}") from None
        return context


class ListenConfig(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    tls: TlsConfig | None = None


class LimitsConfig(_Strict):
    max_request_line: Annotated[Bytes, Field(ge=64, le=1 << 20)] = 8 * 1024
    max_header_line: Annotated[Bytes, Field(ge=64, le=1 << 20)] = 8 * 1024
    max_headers_size: Annotated[Bytes, Field(ge=256, le=1 << 24)] = 64 * 1024
    max_headers: Annotated[int, Field(ge=1, le=10_000)] = 100
    max_body: Annotated[Bytes, Field(ge=0)] = 10 * 1024 * 1024
    header_timeout: Annotated[Seconds, Field(gt=0)] = 10.0
    idle_timeout: Annotated[Seconds, Field(gt=0)] = 60.0
    body_timeout: Annotated[Seconds, Field(gt=0)] = 30.0

    def build(self) -> GatewayLimits:
        return GatewayLimits(**self.model_dump())


class InstanceConfig(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)]
    weight: Annotated[int, Field(ge=0, le=10_000)] = 100
    zone: str | None = None
    check: HealthCheckSpec = HealthCheckSpec()


class ServiceConfig(_Strict):
    name: Annotated[str, Field(pattern=_NAME)]
    policy: ServicePolicy = ServicePolicy()
    instances: list[InstanceConfig] = Field(default_factory=list)


class MatchConfig(_Strict):
    prefix: str | None = None
    path: str | None = None
    regex: str | None = None
    host: str | None = None
    methods: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    cookies: dict[str, str] = Field(default_factory=dict)

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
    burst: Annotated[int, Field(ge=1)] | None = None
    algorithm: Literal["token_bucket", "gcra", "sliding_log", "sliding_window", "fixed_window"] = (
        "token_bucket"
    )
    key: Annotated[str, Field(pattern=r"^(ip|route|header:[A-Za-z0-9-]+)$")] = "ip"

    @field_validator("rate")
    @classmethod
    def _parses(cls, value: str) -> str:
        Rate.parse(value)  # ConfigError (a ValueError) names what is wrong
        return value

    def build(self, name: str) -> tuple[RateLimiter, bytes | None]:
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
        return RateLimiter(options, name=f"rate_limit:{name}"), header


def _same(key: object) -> object:
    return key


class SplitConfig(_Strict):
    service: Annotated[str, Field(pattern=_NAME)]
    weight: Annotated[float, Field(gt=0)]


class HeaderRewrite(_Strict):
    add: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")], str] = Field(
        default_factory=dict
    )
    remove: list[str] = Field(default_factory=list)

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
    response: list[str] = Field(default_factory=list)
    timeout: Annotated[Seconds, Field(gt=0, le=60)] = 1.0

    @field_validator("request", "response")
    @classmethod
    def _resolvable(cls, value: list[str]) -> list[str]:
        for reference in value:
            load_filter(reference)  # ValueError says what is wrong
        return value


class RouteConfig(_Strict):
    name: Annotated[str, Field(pattern=_NAME)]
    match: MatchConfig = MatchConfig()
    service: Annotated[str, Field(pattern=_NAME)] | None = None
    split: list[SplitConfig] = Field(default_factory=list)
    rewrite_prefix: str | None = None
    rewrite_host: str | None = None
    request_headers: HeaderRewrite = HeaderRewrite()
    response_headers: HeaderRewrite = HeaderRewrite()
    timeout: Annotated[Seconds, Field(gt=0)] | None = None
    rate_limit: RateLimitConfig | None = None
    max_concurrent: Annotated[int, Field(ge=1)] | None = None  # the route's bulkhead...
    max_queued: Annotated[int, Field(ge=0)] = 0  # ...how many may wait for a slot...
    max_queue_wait: Annotated[Seconds, Field(gt=0)] = 1.0  # ...and for how long, seconds
    # Retry POST/PATCH too (only if the upstream is known to be safe to repeat them).
    retry_non_idempotent: bool = False
    filters: FiltersConfig | None = None

    @model_validator(mode="after")
    def _one_target(self) -> RouteConfig:
        if (self.service is None) == (not self.split):
            raise ValueError("a route needs exactly one of service or split")
        return self

    @property
    def services(self) -> set[str]:
        return {self.service} if self.service else {s.service for s in self.split}

    def build(self, index: int) -> Route:
        match = self.match
        filters = self.filters
        name = self.name or f"route-{index}"
        cumulative, split = 0.0, []
        for part in self.split:
            cumulative += part.weight
            split.append((part.service, cumulative))
        limiter, limit_header = (None, None)
        if self.rate_limit is not None:
            limiter, limit_header = self.rate_limit.build(name)
        return Route(
            name=name,
            rate_limiter=limiter,
            limit_by_ip=self.rate_limit is not None and self.rate_limit.key == "ip",
            limit_header=limit_header,
            service=self.service or "",
            split=tuple(split),
            query=tuple((k.encode(), v.encode()) for k, v in match.query.items()),
            cookies=tuple((k.encode(), v.encode()) for k, v in match.cookies.items()),
            rewrite_host=self.rewrite_host.encode() if self.rewrite_host else None,
            added_request_lines=render_fields(self.request_headers.pairs()),
            remove_request_headers=self.request_headers.names(),
            add_response_headers=self.response_headers.pairs(),
            remove_response_headers=self.response_headers.names(),
            prefix=match.prefix.encode() if match.prefix else None,
            path=match.path.encode() if match.path else None,
            regex=re.compile(match.regex.encode()) if match.regex else None,
            host=match.host.lower().encode() if match.host else None,
            methods=frozenset(m.upper().encode() for m in match.methods),
            headers=tuple((k.lower().encode(), v.encode()) for k, v in match.headers.items()),
            rewrite_prefix=self.rewrite_prefix.encode()
            if self.rewrite_prefix is not None
            else None,
            timeout=self.timeout,
            max_concurrent=self.max_concurrent,
            max_queued=self.max_queued,
            max_queue_wait=self.max_queue_wait,
            retry_non_idempotent=self.retry_non_idempotent,
            request_filters=tuple(load_filter(r) for r in filters.request) if filters else (),
            response_filters=tuple(load_filter(r) for r in filters.response) if filters else (),
            filter_timeout=filters.timeout if filters else 1.0,
        )


class ReloadConfig(_Strict):
    """How ``meshkit run`` picks up changes to its config file (SIGHUP always reloads at once)."""

    watch: bool = True
    """Reload when the file changes; ``false``: only on SIGHUP."""
    settle: Annotated[Seconds, Field(ge=0, le=3600)] = 3.0
    """How long a changed file must stay unchanged (time, size and content) before it is
    applied, so that a file written in several steps is never applied half-written. Writing
    the file atomically (a temporary file renamed over it) makes a short value safe."""
    poll: Annotated[Seconds, Field(gt=0, le=3600)] = 1.0
    """How often the file is looked at."""


class GatewayConfig(_Strict):
    listen: ListenConfig = ListenConfig()
    admin: ListenConfig | None = None  # /metrics (Prometheus) and /healthz; None: off
    # Addresses (CIDR) of proxies in front of the gateway whose X-Forwarded-* are believed.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Worker processes sharing the listening port (SO_REUSEPORT); each is a whole gateway.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    limits: LimitsConfig = LimitsConfig()
    services: list[ServiceConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    reload: ReloadConfig = ReloadConfig()
    """Reloading on file changes: on by default, applied once the file has settled."""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        problems = []
        for index, item in enumerate(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                problems.append(((index,), f"{item!r} is not an IP address or network (CIDR)"))
        if problems:
            raise ConfigProblems(problems)
        return value

    @model_validator(mode="after")
    def _workers_need_a_fixed_port(self) -> GatewayConfig:
        if self.workers > 1 and (self.listen.port == 0 or self.admin is not None):
            problem = (
                "several workers need a fixed listen port and no admin listener "
                "(each worker would need its own)"
            )
            raise ConfigProblems([(("workers",), problem)])
        return self

    @model_validator(mode="after")
    def _names_unique_and_known(self) -> GatewayConfig:
        # The loader runs the same checks on the raw mapping (to report them alongside field
        # errors); this keeps a config built in Python to the same rules.
        problems = cross_problems(self.model_dump())
        if problems:
            raise ConfigProblems(problems)
        return self
