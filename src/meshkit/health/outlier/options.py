"""Settings of passive outlier detection, named and defaulted after Envoy's."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit import _validate

__all__ = ["DEFAULT_OUTLIER_OPTIONS", "OutlierOptions"]


def _count(option: str, value: int | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    _validate.at_least(option, _validate.integer(option, value), 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutlierOptions:
    """How endpoints are judged from real traffic, and for how long they are set aside.

    Detectors (``None`` switches one off):

    * ``consecutive_5xx``: eject after this many 5xx (or local errors) in a row;
    * ``consecutive_gateway_failure``: eject after this many 502/503/504 (or local errors)
      in a row (off by default, as Envoy ships it);
    * ``success_rate_stdev_factor``: each ``interval``, among endpoints with at least
      ``success_rate_request_volume`` requests — if there are ``success_rate_minimum_hosts``
      of them — eject those whose success rate is below mean - factor x stdev;
    * ``failure_percentage_threshold``: each ``interval``, among endpoints with at least
      ``failure_percentage_request_volume`` requests — if there are
      ``failure_percentage_minimum_hosts`` of them — eject those failing at least this
      percentage of requests (off by default, as in Envoy).

    Ejection: the n-th ejection in a row lasts ``base_ejection_time`` x n, at most
    ``max_ejection_time``; n shrinks by one for every ``interval`` an endpoint stays in.
    At most ``max_ejection_percent`` % of the endpoints are out at once (but at least one may
    be, however few endpoints there are, unless the percentage is 0).
    """

    interval: float = 10.0
    base_ejection_time: float = 30.0
    max_ejection_time: float = 300.0
    max_ejection_percent: float = 10.0
    consecutive_5xx: int | None = 5
    consecutive_gateway_failure: int | None = None
    success_rate_stdev_factor: float | None = 1.9
    success_rate_minimum_hosts: int = 5
    success_rate_request_volume: int = 100
    failure_percentage_threshold: float | None = None
    failure_percentage_minimum_hosts: int = 5
    failure_percentage_request_volume: int = 50

    def __post_init__(self) -> None:
        _validate.positive("interval", self.interval)
        _validate.positive("base_ejection_time", self.base_ejection_time)
        _validate.positive("max_ejection_time", self.max_ejection_time)
        _validate.not_above(
            "base_ejection_time",
            self.base_ejection_time,
            "max_ejection_time",
            self.max_ejection_time,
        )
        _validate.between("max_ejection_percent", self.max_ejection_percent, 0.0, 100.0)
        _count("consecutive_5xx", self.consecutive_5xx, optional=True)
        _count("consecutive_gateway_failure", self.consecutive_gateway_failure, optional=True)
        if self.success_rate_stdev_factor is not None:
            _validate.at_least("success_rate_stdev_factor", self.success_rate_stdev_factor, 0.0)
        _count("success_rate_minimum_hosts", self.success_rate_minimum_hosts)
        _count("success_rate_request_volume", self.success_rate_request_volume)
        if self.failure_percentage_threshold is not None:
            _validate.between(
                "failure_percentage_threshold", self.failure_percentage_threshold, 0.0, 100.0
            )
        _count("failure_percentage_minimum_hosts", self.failure_percentage_minimum_hosts)
        _count("failure_percentage_request_volume", self.failure_percentage_request_volume)


DEFAULT_OUTLIER_OPTIONS = OutlierOptions()
