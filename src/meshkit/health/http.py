"""The HTTP check: one HTTP/1.1 request over asyncio streams, judged by status and body.

It writes a minimal request (``Connection: close``), reads the status line and headers, and only
reads the body — up to ``max_body_bytes`` — when it has to match on it. No client library sits
on this path: a check per target per second must cost a connect and a few hundred bytes.

Judging, in order: a status in ``expected_statuses`` passes (then the body must match, if a
match is configured); 429 is a warning (the target is alive but shedding load — Consul's rule);
anything else, a connect failure or a malformed answer is critical. The time bound is applied
around the whole probe by :func:`~meshkit.health.check.run_check`.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Collection
from dataclasses import dataclass

from meshkit import _validate
from meshkit.errors import ConfigError
from meshkit.health._http_read import ResponseError, read_body, read_head
from meshkit.health.status import CheckResult, HealthStatus
from meshkit.health.target import CheckTarget

__all__ = ["HttpCheck", "HttpCheckOptions"]

_HEAD_LINE_LIMIT = 16 * 1024  # longest status or header line we accept
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _check_token(option: str, value: str) -> None:
    """Refuse characters that would let a value break out of its place in the request."""
    if any(c in value for c in "\r\n\0"):
        raise ConfigError(f"{option} must not contain CR, LF or NUL, got {value!r}", option=option)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCheckOptions:
    """``path``: request target (origin form, e.g. ``/healthz?full=1``); ``method``: GET or HEAD;
    ``expected_statuses``: statuses that pass (default 200-399); ``body_contains`` /
    ``body_pattern``: a substring / regular expression (searched) the body must hold, checked on
    its first ``max_body_bytes`` bytes decoded as UTF-8; ``host_header``: the Host header
    (default the target's ``host:port``); ``headers``: extra request headers; ``tls_verify``:
    verify the certificate of ``https`` targets."""

    path: str = "/"
    method: str = "GET"
    expected_statuses: Collection[int] = range(200, 400)
    body_contains: str | None = None
    body_pattern: str | None = None
    host_header: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    max_body_bytes: int = 64 * 1024
    tls_verify: bool = True

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or " " in self.path:
            raise ConfigError(
                f"path must start with '/' and hold no spaces, got {self.path!r}", option="path"
            )
        _check_token("path", self.path)
        _validate.one_of("method", self.method, ("GET", "HEAD"))
        if not self.expected_statuses or not all(
            isinstance(s, int) and 100 <= s <= 599 for s in self.expected_statuses
        ):
            raise ConfigError(
                "expected_statuses must be a non-empty collection of statuses in 100..599",
                option="expected_statuses",
            )
        if self.method == "HEAD" and self.matches_body:
            raise ConfigError("a HEAD check has no body to match; use GET", option="body_contains")
        if self.body_pattern is not None:
            try:
                re.compile(self.body_pattern)
            except re.error as exc:
                raise ConfigError(
                    f"body_pattern is not a valid regular expression: {exc}",
                    option="body_pattern",
                ) from None
        if self.host_header is not None:
            _check_token("host_header", self.host_header)
        for name, value in self.headers:
            if not name or ":" in name or " " in name:
                raise ConfigError(f"bad header name {name!r}", option="headers")
            _check_token("headers", name)
            _check_token("headers", value)
        _validate.at_least("max_body_bytes", self.max_body_bytes, 1)

    @property
    def matches_body(self) -> bool:
        return self.body_contains is not None or self.body_pattern is not None


class HttpCheck:
    """Probe a target with one HTTP request; see the module docstring for the verdicts."""

    __slots__ = ("_pattern", "_ssl", "options")

    def __init__(
        self,
        options: HttpCheckOptions = HttpCheckOptions(),
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.options = options
        self._pattern = re.compile(options.body_pattern) if options.body_pattern else None
        self._ssl = ssl_context  # built lazily: loading CA certificates costs milliseconds

    async def check(self, target: CheckTarget) -> CheckResult:
        options = self.options
        what = f"HTTP {options.method} {target.scheme}://{target.authority}{options.path}"
        tls = self._tls_context() if target.scheme == "https" else None
        try:
            reader, writer = await asyncio.open_connection(
                target.host,
                target.port,
                ssl=tls,
                server_hostname=self._server_hostname(target) if tls is not None else None,
                limit=_HEAD_LINE_LIMIT,
            )
        except OSError as exc:
            return CheckResult.critical(f"{what}: connect failed: {exc}")
        try:
            writer.write(self._request(target))
            await writer.drain()
            head = await read_head(reader)
            verdict = self._judge_status(head.status)
            if verdict is not None:
                return CheckResult(verdict, f"{what}: {head.status} {head.reason}")
            if options.matches_body:
                body = await read_body(reader, head, limit=options.max_body_bytes)
                if not self._body_matches(body.decode("utf-8", "replace")):
                    return CheckResult.critical(
                        f"{what}: {head.status} {head.reason}, body did not match"
                    )
            return CheckResult.passing(f"{what}: {head.status} {head.reason}")
        except OSError as exc:
            return CheckResult.critical(f"{what}: connection failed: {exc}")
        except ResponseError as exc:
            return CheckResult.critical(f"{what}: {exc}")
        finally:
            writer.close()  # not awaited: the verdict must not wait on the peer's goodbye

    def _judge_status(self, status: int) -> HealthStatus | None:
        """A verdict from the status alone, or ``None`` when the status passes (body next)."""
        if status in self.options.expected_statuses:
            return None
        if status == 429:
            return HealthStatus.WARNING
        return HealthStatus.CRITICAL

    def _body_matches(self, text: str) -> bool:
        contains = self.options.body_contains
        if contains is not None and contains not in text:
            return False
        return self._pattern is None or self._pattern.search(text) is not None

    def _request(self, target: CheckTarget) -> bytes:
        options = self.options
        lines = [
            f"{options.method} {options.path} HTTP/1.1",
            f"Host: {options.host_header or self._default_host(target)}",
            "User-Agent: meshkit-health/1",
            "Accept: */*",
            "Connection: close",
        ]
        lines.extend(f"{name}: {value}" for name, value in options.headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    def _default_host(target: CheckTarget) -> str:
        if _DEFAULT_PORTS.get(target.scheme) == target.port:
            return target.authority.rsplit(":", 1)[0]
        return target.authority

    def _server_hostname(self, target: CheckTarget) -> str:
        host_header = self.options.host_header
        if host_header:
            return host_header.rsplit(":", 1)[0] if "]" not in host_header else target.host
        return target.host

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = ssl.create_default_context()
            if not self.options.tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl = context
        return self._ssl

    def __repr__(self) -> str:
        return f"HttpCheck({self.options.method} {self.options.path})"
