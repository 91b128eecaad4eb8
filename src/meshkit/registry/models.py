"""The records of the catalog: services and their instances, validated on the way in.

Both are frozen pydantic models, so a record in the catalog can be shared without copying and
compared field by field (an identical re-registration is a no-op). Limits:

* names (services, dependencies) are DNS labels: 1-63 of ``a-z 0-9 -``, not starting or
  ending with ``-`` — they end up in URLs, metrics labels and Redis keys;
* instance ids: 1-128 of ``A-Z a-z 0-9 . _ : -``; versions and zones: up to 64 printable
  characters; tags: at most 32 of up to 64 characters;
* hosts: an IPv4/IPv6 address or an RFC 1123 host name; ports 1-65535; weights 0-10000
  (0 = registered but sent no traffic, e.g. while draining);
* metadata: at most 64 string pairs, keys up to 128 and values up to 512 characters.

:func:`parse_service` and :func:`parse_instance` turn untrusted mappings (YAML, JSON, the
admin API) into records, raising :class:`~meshkit.errors.InvalidRegistration` that lists
*every* bad field at once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from meshkit._units import Seconds
from meshkit.errors import InvalidRegistration
from meshkit.health import (
    DEFAULT_CHECK_OPTIONS,
    DEFAULT_FALL,
    DEFAULT_JITTER,
    DEFAULT_RISE,
    CheckOptions,
)
from meshkit.registry.policy import ServicePolicy
from meshkit.registry.policy_base import OptionRefused, checked

__all__ = [
    "HealthCheckSpec",
    "Host",
    "Instance",
    "Label",
    "Service",
    "ServicePolicy",
    "parse_instance",
    "parse_service",
]

_NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

Name = Annotated[str, Field(pattern=_NAME)]
Label = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]


def check_host(value: str) -> str:
    """``value`` if it is an IP address or an RFC 1123 host name, else ``ValueError``."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        labels = value.rstrip(".").split(".")
        if not value or not all(_HOST_LABEL.match(label) for label in labels):
            raise ValueError(
                f"{value[:64]!r} is neither an IP address nor a valid host name"
            ) from None
    return value


Host = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(check_host)]
"""An instance's host, checked as the registry will check it."""
Metadata = Annotated[dict[str, Annotated[str, Field(max_length=512)]], Field(max_length=64)]


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if not 1 <= len(key) <= 128:
            raise ValueError(f"metadata key {key[:40]!r} must be 1-128 characters")
    return value


class _Record(BaseModel):
    # Attribute docstrings are the fields' descriptions (the gateway's config reference).
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=False, use_attribute_docstrings=True
    )


class HealthCheckSpec(_Record):
    """How to check an instance actively (``kind="none"``: passive outlier detection only)."""

    kind: Literal["http", "tcp", "ttl", "none"] = "none"
    """`http` (a GET of `path`), `tcp` (a connect), `ttl` (the instance reports in before `ttl`
    runs out) or `none` (passive outlier detection only)."""
    path: Annotated[str, Field(pattern=r"^/[\x21-\x7e]*$", max_length=1024)] = "/health"
    """Path the `http` check requests."""
    interval: Annotated[Seconds, Field(gt=0, le=3600)] = DEFAULT_CHECK_OPTIONS.interval
    """Time between two checks."""
    timeout: Annotated[Seconds, Field(gt=0, le=600)] = 2.0
    """Time a check may take before it counts as failed."""
    ttl: Annotated[Seconds, Field(gt=0, le=86400)] = 30.0
    """For `kind: ttl`: how long one report of health holds."""
    deregister_after: Annotated[Seconds, Field(gt=0)] | None = None
    """Deregister an instance that stays critical this long; absent: never."""
    jitter: float = DEFAULT_JITTER
    """Share of `interval` (0-1) by which each wait is stretched or shrunk at random, so checks
    started together drift apart."""
    rise: int = DEFAULT_RISE
    """Passing checks in a row that bring a critical instance back."""
    fall: int = DEFAULT_FALL
    """Failing checks in a row that take an instance out."""

    def options(self) -> CheckOptions:
        """The scheduler's options for an `http` or `tcp` check."""
        return CheckOptions(
            interval=self.interval,
            jitter=self.jitter,
            # A probe cannot outlast the wait between two: the default timeout (2 s) stands
            # for "up to 2 s" when a shorter interval is asked for.
            timeout=min(self.timeout, self.interval),
            rise=self.rise,
            fall=self.fall,
            deregister_critical_after=self.deregister_after,
            initial_status=DEFAULT_CHECK_OPTIONS.initial_status,
        )

    @model_validator(mode="after")
    def _library_checks(self) -> HealthCheckSpec:
        checked(self.options)  # the scheduler's own checks (jitter range, rise and fall counts)
        return self


class Service(_Record):
    """A named service: what it is, what it needs, how to call it."""

    name: Name
    version: Label | None = None
    tags: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=64)], ...], Field(max_length=32)
    ] = ()
    metadata: Metadata = Field(default_factory=dict)
    dependencies: Annotated[tuple[Name, ...], Field(max_length=256)] = ()
    policy: ServicePolicy = ServicePolicy()

    _metadata_keys = field_validator("metadata")(_check_metadata)

    @field_validator("dependencies")
    @classmethod
    def _not_itself(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("dependencies must not repeat a service")
        return value


class Instance(_Record):
    """One running copy of a service, reachable at ``scheme://host:port``."""

    id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
    service: Name
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)]
    scheme: Literal["http", "https"] = "http"
    weight: Annotated[int, Field(ge=0, le=10_000)] = 100
    zone: Label | None = None
    version: Label | None = None
    metadata: Metadata = Field(default_factory=dict)
    check: HealthCheckSpec = HealthCheckSpec()

    _metadata_keys = field_validator("metadata")(_check_metadata)

    _valid_host = field_validator("host")(check_host)

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"


def parse_service(data: Mapping[str, Any] | Service) -> Service:
    """A :class:`Service` from a mapping, or ``InvalidRegistration`` naming every bad field."""
    return data if isinstance(data, Service) else _parse(Service, data, "service")


def parse_instance(data: Mapping[str, Any] | Instance) -> Instance:
    """An :class:`Instance` from a mapping, or ``InvalidRegistration`` naming every bad field."""
    return data if isinstance(data, Instance) else _parse(Instance, data, "instance")


_DNS_LABEL_HELP = "must be a DNS label: 1-63 of a-z 0-9 -, not starting or ending with -"
_PATTERN_HELP = {
    "name": _DNS_LABEL_HELP,
    "service": _DNS_LABEL_HELP,
    "dependencies": _DNS_LABEL_HELP,
    "id": "must be 1-128 of A-Z a-z 0-9 . _ : -",
    "version": "must be 1-64 printable characters without spaces",
    "zone": "must be 1-64 printable characters without spaces",
    "check": "path must start with / and hold no spaces",
}


def _parse(model: type[_Record], data: Mapping[str, Any], what: str) -> Any:
    if not isinstance(data, Mapping):
        raise InvalidRegistration(what, [f"expected a mapping, got {type(data).__name__}"])
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            loc = error["loc"]
            message = error["msg"]
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, OptionRefused) and cause.option:
                # A policy's own check: it names the option below the section that failed.
                loc, message = (*loc, cause.option), cause.reason
            where = ".".join(str(part) for part in loc) or what
            if error["type"] == "string_pattern_mismatch":
                message = _PATTERN_HELP.get(str(error["loc"][0]), message)
            problems.append(f"{where}: {message}")
        raise InvalidRegistration(what, problems) from None
