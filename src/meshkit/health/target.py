"""What a health check points at: one instance's address.

Kept minimal on purpose so health checking does not depend on the registry's models; the
registry (or anyone else) builds a :class:`CheckTarget` from its own instance records.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshkit import _validate
from meshkit.errors import ConfigError

__all__ = ["CheckTarget"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckTarget:
    """``instance_id`` identifies the target in results and events; ``scheme`` picks TLS for
    HTTP checks (``"https"``) and is otherwise informative."""

    instance_id: str
    host: str
    port: int
    scheme: str = "http"

    def __post_init__(self) -> None:
        if not self.instance_id:
            raise ConfigError("instance_id must not be empty", option="instance_id")
        if not self.host:
            raise ConfigError("host must not be empty", option="host")
        _validate.integer("port", self.port)
        _validate.between("port", self.port, 1, 65535)

    @property
    def authority(self) -> str:
        """``host:port``, with an IPv6 literal in brackets (as in a URL or a Host header)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.instance_id}@{self.scheme}://{self.authority}"
