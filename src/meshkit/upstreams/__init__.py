"""The per-service engine both faces share — the library's calls and the gateway's requests:
a service's balancer, a breaker per endpoint, outlier detection, retry, timeouts and bulkhead
(:class:`ServiceRoute`, leasing endpoints as :class:`Lease`, built from :class:`RouteOptions`),
and ``Retry-After`` parsing."""

from __future__ import annotations

from meshkit.upstreams.retry_after import parse_retry_after
from meshkit.upstreams.route_options import RouteOptions
from meshkit.upstreams.service_route import Classifier, Lease, ServiceRoute

__all__ = ["Classifier", "Lease", "RouteOptions", "ServiceRoute", "parse_retry_after"]
