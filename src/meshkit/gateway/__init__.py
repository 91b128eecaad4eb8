"""The gateway / sidecar: an HTTP/1.1 reverse proxy on uvloop and llhttp, routing to services
of the mesh with their balancing and resilience policies."""

from __future__ import annotations

from meshkit.gateway.config import GatewayConfig
from meshkit.gateway.config_load import load_config, parse_config
from meshkit.gateway.gateway import ERROR_TABLE, Gateway
from meshkit.gateway.limits import GatewayLimits

__all__ = [
    "ERROR_TABLE",
    "Gateway",
    "GatewayConfig",
    "GatewayLimits",
    "load_config",
    "parse_config",
]
