"""One exception tree for all of meshkit.

::

    MeshError
    ├── ConfigError                    invalid options or configuration, raised at construction
    │   └── InvalidRegistration        a service or instance record with bad fields (all listed)
    ├── PolicyRejected(retry_after)    a policy refused or stopped the call
    │   ├── CircuitOpen                the breaker is open (or half-open and out of probes)
    │   ├── RateLimited                the rate limiter said no
    │   ├── BulkheadFull               no concurrency slot and no room (or time) in the queue
    │   ├── TimeoutExceeded            the total or per-attempt deadline passed; work cancelled
    │   └── RetryBudgetExhausted       a retry was due but the shared budget forbids it
    ├── RegistryError                  the service catalog refused a change
    │   ├── ServiceAlreadyRegistered   an instance id already registered with other data
    │   ├── InstanceNotFound           no instance has that id
    │   └── StoreError                 the catalog's store failed (file corrupt or locked, Redis
    │                                  down); the in-memory catalog is left as it was
    └── UpstreamError                  talking to another service failed
        ├── ConnectFailed
        ├── UpstreamTimeout
        ├── NoHealthyEndpoint(retry_after)
        └── ServiceNotFound

Foreign errors (``OSError``, client-library errors) are translated into this tree at the edge
that meets them; a caller's *own* exception travels through policies unchanged unless a policy
handles it.
"""

from __future__ import annotations

__all__ = [
    "BulkheadFull",
    "CircuitOpen",
    "ConfigError",
    "ConnectFailed",
    "InstanceNotFound",
    "InvalidRegistration",
    "MeshError",
    "NoHealthyEndpoint",
    "PolicyRejected",
    "RateLimited",
    "RegistryError",
    "RetryBudgetExhausted",
    "ServiceAlreadyRegistered",
    "ServiceNotFound",
    "StoreError",
    "TimeoutExceeded",
    "UpstreamError",
    "UpstreamTimeout",
]


class MeshError(Exception):
    """Root of every error meshkit raises on its own account."""

    # Declared, not inherited from Exception, so that inspect.signature() and help() can show
    # how to build one (a builtin __init__ has no signature to show).
    def __init__(self, message: str = "") -> None:
        super().__init__(message)


class ConfigError(MeshError, ValueError):
    """An option or configuration value is invalid.

    ``option`` names the offending option (a dotted path for config files) so that the message
    can say what was wrong and what is allowed. ``problems`` holds one line per problem when a
    config file had several (the message is those lines joined).
    """

    def __init__(
        self, message: str, *, option: str | None = None, problems: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.option = option
        self.problems = problems or (message,)


class PolicyRejected(MeshError):
    """A resilience policy refused the call or stopped it.

    ``retry_after`` is the policy's best estimate, in seconds, of when trying again could
    succeed (``None`` when it cannot tell). It feeds ``Retry-After`` headers and client backoff.
    """

    def __init__(
        self, message: str = "", *, retry_after: float | None = None, policy: str = ""
    ) -> None:
        super().__init__(message or type(self).__name__)
        self.retry_after = retry_after
        self.policy = policy


class CircuitOpen(PolicyRejected):
    """The circuit breaker is open: calls fail fast until it lets probes through."""


class RateLimited(PolicyRejected):
    """The rate limit is spent for now."""


class BulkheadFull(PolicyRejected):
    """The bulkhead has no free slot and its queue is full or the queue wait ran out."""


class TimeoutExceeded(PolicyRejected):
    """A deadline passed and the work was cancelled."""


class RetryBudgetExhausted(PolicyRejected):
    """A retry was due, but the retry budget forbids more retries right now.

    The failure that would have been retried is kept as ``__cause__`` and ``last_error``.
    """

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        policy: str = "",
        last_error: BaseException | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after, policy=policy)
        self.last_error = last_error


class InvalidRegistration(ConfigError):
    """A service or instance record failed validation; ``problems`` lists every bad field as
    ``"field: what is wrong"``, and the message shows them all."""

    def __init__(self, what: str, problems: list[str]) -> None:
        super().__init__(
            f"invalid {what}: " + "; ".join(problems), option=None, problems=tuple(problems)
        )


class RegistryError(MeshError):
    """The service catalog refused a change."""


class ServiceAlreadyRegistered(RegistryError):
    """An instance id is already registered with different data (re-registering the very same
    record is idempotent and not an error)."""


class InstanceNotFound(RegistryError):
    """No registered instance has that id."""


class StoreError(RegistryError):
    """The catalog's store failed; the in-memory catalog was not changed."""


class UpstreamError(MeshError):
    """Talking to another service failed."""


class ConnectFailed(UpstreamError):
    """No connection could be made to the chosen endpoint."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time."""


class NoHealthyEndpoint(UpstreamError):
    """Every endpoint of the service is unhealthy, ejected or behind an open breaker."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message or "no healthy endpoint")
        self.retry_after = retry_after


class ServiceNotFound(UpstreamError):
    """The named service is not registered."""
