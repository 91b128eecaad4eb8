"""The gateway's YAML configuration schema, validated by pydantic before anything starts.

Reading a file (bytes, YAML, duplicate keys) and turning pydantic's errors into
``file:line:column: key.path: reason`` lines is :mod:`meshkit.gateway.config_load`'s job;
checks across keys (unique names, known services) live in :mod:`~.config_checks`; a route's
models in :mod:`~.config_route`. Every field carries a description (its docstring), from which
``docs/configuration.md`` is generated (:mod:`~.config_docs`).
"""

from __future__ import annotations

import ipaddress
import ssl
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from meshkit._units import Bytes, Seconds
from meshkit.gateway.config_base import NAME_PATTERN as _NAME
from meshkit.gateway.config_base import Strict as _Strict
from meshkit.gateway.config_checks import ConfigProblems, cross_problems
from meshkit.gateway.config_route import RouteConfig
from meshkit.gateway.limits import GatewayLimits
from meshkit.registry.models import HealthCheckSpec, Host, Label, ServicePolicy

__all__ = ["GatewayConfig", "ReloadConfig", "RouteConfig"]


class TlsConfig(_Strict):
    """TLS termination: PEM ``cert`` (chain) and ``key`` files, read when the config loads."""

    cert: str
    """Path of the PEM certificate chain file (the server's certificate first), relative to the
    working directory."""
    key: str
    """Path of the PEM private key file that matches `cert`."""

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
    """Address to listen on: `0.0.0.0` for every IPv4 interface, `::` for IPv6."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    """TCP port to listen on; `0` picks a free one."""
    tls: TlsConfig | None = None
    """Terminate TLS on this listener with these files; absent: plain HTTP."""


class AdminConfig(_Strict):
    """The admin address: plain HTTP only (keep it on loopback or a private network)."""

    host: str = "127.0.0.1"
    """Address to serve `/metrics` and `/healthz` on."""
    port: Annotated[int, Field(ge=0, le=65535)] = 9901
    """TCP port to serve them on; `0` picks a free one."""


class LimitsConfig(_Strict):
    max_request_line: Annotated[Bytes, Field(ge=64, le=1 << 20)] = 8 * 1024
    """Longest request line (method, target, version); a longer one gets 414."""
    max_header_line: Annotated[Bytes, Field(ge=64, le=1 << 20)] = 8 * 1024
    """Longest single header line; a longer one gets 431."""
    max_headers_size: Annotated[Bytes, Field(ge=256, le=1 << 24)] = 64 * 1024
    """Most bytes of all request header lines together; more gets 431."""
    max_headers: Annotated[int, Field(ge=1, le=10_000)] = 100
    """Most header fields in one request; more gets 431."""
    max_body: Annotated[Bytes, Field(ge=0)] = 10 * 1024 * 1024
    """Largest request body; a larger one gets 413."""
    header_timeout: Annotated[Seconds, Field(gt=0)] = 10.0
    """Time a client has to send a request's head; then the connection is closed."""
    idle_timeout: Annotated[Seconds, Field(gt=0)] = 60.0
    """Time a keep-alive connection may sit idle between requests before it is closed."""
    body_timeout: Annotated[Seconds, Field(gt=0)] = 30.0
    """Time a client may pause while sending a request body; then the connection is closed."""
    # (descriptions: the configuration reference is generated from them)
    min_body_rate: Annotated[
        float,
        Field(
            ge=0,
            description="Bytes per second a request body must average once `body_timeout` "
            "of grace is used up (each byte extends its deadline); 0 turns the check off.",
        ),
    ] = 500.0
    request_buffer: Annotated[
        Bytes,
        Field(
            ge=0,
            le=1 << 24,
            description="Request bodies up to this many bytes are read whole before an "
            "upstream connection is taken (a slow client holds none); larger bodies stream. "
            "0: stream all.",
        ),
    ] = 64 * 1024
    headers_with_underscores: Annotated[
        Literal["drop", "allow", "reject"],
        Field(
            description="Request header names holding `_`: drop the field (as nginx), allow "
            "it, or reject the request with 400 (they could pass for `-` names in CGI-style "
            "upstreams: X_Forwarded_For for X-Forwarded-For).",
        ),
    ] = "drop"
    half_closed_clients: Annotated[
        Literal["answer", "abort"],
        Field(
            description="A client that ends its sending side after a request (`nc -N`): "
            "`answer` it (as HAProxy), or `abort` its request and the upstream call at once "
            "(as nginx; spares the upstream work for clients that are gone for good).",
        ),
    ] = "answer"
    normalize_path: bool = True
    """Decode escaped unreserved characters and remove `.`/`..` segments before routing, and
    forward that path: `/orders/../api` is `/api` for routes, filters and the upstream alike."""
    merge_slashes: bool = False
    """Also merge runs of slashes (`/a//b` is `/a/b`) before routing."""
    max_connections: Annotated[int, Field(ge=1, le=1 << 24)] | None = None
    # (a description inside `X | None` is not the field's: hence a docstring here)
    """Client connections open at once; at the limit the gateway stops accepting (clients wait
    in the listen backlog). Default (absent): half the open-file limit."""

    def build(self) -> GatewayLimits:
        return GatewayLimits(**self.model_dump())


class InstanceConfig(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
    """Unique id of the instance (1-128 of A-Z a-z 0-9 . _ : -); it labels the instance's
    metrics."""
    host: Host
    """IP address or host name the instance listens on."""
    port: Annotated[int, Field(ge=1, le=65535)]
    """TCP port the instance listens on."""
    weight: Annotated[int, Field(ge=0, le=10_000)] = 100
    """Share of the service's traffic relative to its other instances; `0` keeps it registered but
    sends it nothing (draining)."""
    zone: Label | None = None
    """Availability zone (or rack) of the instance, for zone-aware balancing."""
    check: HealthCheckSpec = HealthCheckSpec()
    """How the instance is health-checked actively; by default it is watched passively only
    (outlier detection)."""


class PoolConfig(_Strict):
    """Keep-alive connections to each endpoint of a service."""

    max_connections: Annotated[
        int,
        Field(
            ge=1,
            le=1 << 20,
            description="Connections open to one endpoint at most; beyond, requests get 503 "
            "(or go to another endpoint, where the route may retry).",
        ),
    ] = 1024
    max_idle: Annotated[
        int, Field(ge=0, le=1 << 20, description="Idle keep-alive connections kept per endpoint.")
    ] = 64
    idle_timeout: Annotated[
        Seconds, Field(gt=0, description="Time an idle connection is kept before it is closed.")
    ] = 60.0
    connect_timeout: Annotated[
        Seconds,
        Field(gt=0, le=600, description="Time to establish a connection before giving up."),
    ] = 2.0


class ServiceConfig(_Strict):
    name: Annotated[str, Field(pattern=_NAME)]
    """Name routes send to (a DNS label: 1-63 of a-z 0-9 -, not starting or ending with -);
    unique."""
    policy: ServicePolicy = ServicePolicy()
    """How calls to the service are balanced, retried and timed out."""
    pool: PoolConfig = PoolConfig()
    """Keep-alive connections to each of the service's instances."""
    instances: list[InstanceConfig] = Field(default_factory=list)
    """The service's instances; a service may have none yet."""


class ReloadConfig(_Strict):
    """How ``meshkit run`` picks up changes to its config file (SIGHUP always reloads at once)."""

    watch: bool = True
    """Reload when the file changes; `false`: only on SIGHUP."""
    settle: Annotated[Seconds, Field(ge=0, le=3600)] = 3.0
    """How long a changed file must stay unchanged (time, size and content) before it is
    applied, so that a file written in several steps is never applied half-written. Writing
    the file atomically (a temporary file renamed over it) makes a short value safe."""
    poll: Annotated[Seconds, Field(gt=0, le=3600)] = 1.0
    """How often the file is looked at."""


class GatewayConfig(_Strict):
    listen: ListenConfig = ListenConfig()
    """Where clients connect."""
    admin: AdminConfig | None = None  # /metrics (Prometheus) and /healthz; None: off
    """Where `/metrics` (Prometheus) and `/healthz` are served; absent: not served."""
    # Addresses (CIDR) of proxies in front of the gateway whose X-Forwarded-* are believed.
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or networks (CIDR) of proxies in front of the gateway whose `X-Forwarded-*`
    headers are believed."""
    # Worker processes sharing the listening port (SO_REUSEPORT); each is a whole gateway.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    """Worker processes sharing the listening port (SO_REUSEPORT), each a whole gateway; more than
    one needs a fixed `listen.port` and no `admin`."""
    limits: LimitsConfig = LimitsConfig()
    """Limits on what a client may send, and how long it may take."""
    services: list[ServiceConfig] = Field(default_factory=list)
    """The services routes send to, with their instances."""
    routes: list[RouteConfig] = Field(default_factory=list)
    """Routes, tried in order: the first that matches a request takes it (none: 404)."""
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
