"""A service's YAML policy, through the mesh, builds the route's policies with those options."""

from __future__ import annotations

from meshkit.clock import FakeClock
from meshkit.gateway import parse_config
from meshkit.health import DEFAULT_OUTLIER_OPTIONS, OutlierOptions
from meshkit.health.status import HealthStatus
from meshkit.mesh import ServiceMesh
from meshkit.registry import Instance, InstanceState, Service, ServicePolicy
from meshkit.registry.policy import DEFAULT_BREAKER_OPTIONS
from meshkit.upstreams import RouteOptions, ServiceRoute

PASSING = HealthStatus.PASSING
CONFIG = """
services:
  - name: orders
    policy:
      algorithm: round_robin
      timeout: 2s
      panic_threshold: 0.25
      slow_start: 30s
      retry:
        max_attempts: 3
        per_try_timeout: 500ms
        backoff: {kind: constant, base: 50ms, max_delay: 50ms}
        budget: {ratio: 0.5, min_retries_per_second: 2, window: 20s}
      breaker: {consecutive_failures: 2, break_duration: 3s, failure_rate_threshold: null}
      outlier_detection: {consecutive_5xx: 4, interval: 2s}
      bulkhead: {max_concurrent: 10, max_queued: 5, max_queue_wait: 1s}
routes: [{name: orders, service: orders}]
"""


async def route_from(text: str, clock: FakeClock) -> ServiceRoute:
    config = parse_config(text)
    mesh = ServiceMesh(clock=clock)
    await mesh.register_service({"name": "orders", "policy": config.services[0].policy})
    return mesh.route("orders")


async def test_each_yaml_key_reaches_the_route(clock: FakeClock) -> None:
    route = await route_from(CONFIG, clock)
    options = route.options
    assert (options.balancer.algorithm, options.balancer.panic_threshold) == ("round_robin", 0.25)
    assert route.balancer.options.slow_start == 30.0
    assert route.timeout == 2.0
    assert route.per_try_timeout == 0.5
    assert route.max_attempts == 3
    assert route.retry is not None
    assert route.retry.options.backoff.kind == "constant"
    assert route.retry.options.budget is route.retry_budget
    assert route.retry_budget is not None
    assert (route.retry_budget.ratio, route.retry_budget.window) == (0.5, 20.0)
    assert options.breaker is not None
    assert (options.breaker.consecutive_failures, options.breaker.break_duration) == (2, 3.0)
    assert options.breaker.failure_rate_threshold is None
    assert route.outlier is not None
    assert (route.outlier.options.consecutive_5xx, route.outlier.options.interval) == (4, 2.0)
    assert route.bulkhead is not None
    assert route.bulkhead.options.max_concurrent == 10
    assert (route.bulkhead.options.max_queued, route.bulkhead.options.max_queue_wait) == (5, 1.0)


async def test_a_bare_service_gets_the_named_defaults(clock: FakeClock) -> None:
    route = await route_from(
        "services: [{name: orders}]\nroutes: [{name: o, service: orders}]", clock
    )
    assert route.options.breaker == DEFAULT_BREAKER_OPTIONS
    assert route.outlier is not None
    assert route.outlier.options == DEFAULT_OUTLIER_OPTIONS
    assert (route.retry, route.retry_budget, route.bulkhead) == (None, None, None)
    assert route.max_attempts == 1
    assert (route.timeout, route.per_try_timeout) == (None, None)


async def test_switched_off_sections_build_nothing(clock: FakeClock) -> None:
    text = (
        "services: [{name: orders, policy: {breaker: false, outlier_detection: false}}]\n"
        "routes: [{name: o, service: orders}]"
    )
    route = await route_from(text, clock)
    assert route.options.breaker is None
    assert route.outlier is None


def test_options_given_whole_win_over_the_policy(clock: FakeClock) -> None:
    service = Service(name="orders", policy=ServicePolicy(max_attempts=3))
    given = RouteOptions.of(ServicePolicy(), clock=clock, outlier=None)
    route = ServiceRoute(service, clock=clock, events=None, options=given)
    assert route.retry is None
    assert route.outlier is None


def test_the_owners_outlier_options_stand_for_a_policy_without_any(clock: FakeClock) -> None:
    mine = OutlierOptions(consecutive_5xx=2)
    route = ServiceRoute(Service(name="orders"), clock=clock, events=None, outlier=mine)
    assert route.outlier is not None
    assert route.outlier.options is mine


def test_a_service_runs_its_detectors_on_its_own_interval(clock: FakeClock) -> None:
    detection = {
        "interval": 4,
        "consecutive_5xx": None,
        "success_rate_stdev_factor": None,
        "failure_percentage_threshold": 50,
        "failure_percentage_minimum_hosts": 1,
        "failure_percentage_request_volume": 1,
        "max_ejection_percent": 100,
    }
    policy = ServicePolicy.model_validate({"outlier_detection": detection})
    route = ServiceRoute(Service(name="orders", policy=policy), clock=clock, events=None)
    route.update([InstanceState(Instance(id="i0", service="orders", host="h", port=1), PASSING)])
    route.settle(route.lease(), status=503)
    clock.advance(3)
    route.evaluate_outliers_if_due(clock.monotonic())  # 3 s: not yet
    assert not route.balancer.get("i0").ejected  # type: ignore[union-attr]
    clock.advance(1)
    route.evaluate_outliers_if_due(clock.monotonic())  # 4 s: its interval is up
    assert route.balancer.get("i0").ejected  # type: ignore[union-attr]
