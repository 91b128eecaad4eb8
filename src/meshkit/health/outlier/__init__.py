"""Passive outlier detection (pure): eject endpoints that real traffic shows to be failing."""

from __future__ import annotations

from meshkit.health.outlier.detector import (
    Ejection,
    EndpointOutlierStats,
    ErrorKind,
    OutlierDetector,
)
from meshkit.health.outlier.events import EjectionReason, EndpointEjected, EndpointUnejected
from meshkit.health.outlier.options import DEFAULT_OUTLIER_OPTIONS, OutlierOptions
from meshkit.health.outlier.stats import failure_percentage_outliers, success_rate_outliers

__all__ = [
    "DEFAULT_OUTLIER_OPTIONS",
    "Ejection",
    "EjectionReason",
    "EndpointEjected",
    "EndpointOutlierStats",
    "EndpointUnejected",
    "ErrorKind",
    "OutlierDetector",
    "OutlierOptions",
    "failure_percentage_outliers",
    "success_rate_outliers",
]
