"""Observability, first layer: hot-path counters and their Prometheus exposition."""

from __future__ import annotations

from meshkit.observability.collector import GatewayCollector
from meshkit.observability.exporter import MetricsServer
from meshkit.observability.stats import LATENCY_BUCKETS, STATUS_CLASSES, RequestStats

__all__ = ["LATENCY_BUCKETS", "STATUS_CLASSES", "GatewayCollector", "MetricsServer", "RequestStats"]
