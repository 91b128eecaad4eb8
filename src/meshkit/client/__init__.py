"""The library face of calling services: the ``httpx`` transport (the per-service engine it
drives is :mod:`meshkit.upstreams`, shared with the gateway)."""

from __future__ import annotations

from meshkit.client.transport import MeshTransport
from meshkit.upstreams import Classifier, ServiceRoute

__all__ = ["Classifier", "MeshTransport", "ServiceRoute"]
