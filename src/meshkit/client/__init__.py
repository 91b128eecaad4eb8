"""The library face of calling services: per-service routes and the ``httpx`` transport."""

from __future__ import annotations

from meshkit.client.route import Classifier, ServiceRoute

__all__ = ["Classifier", "ServiceRoute"]
