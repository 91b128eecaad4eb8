"""A service's YAML policy reaches the policies' constructor arguments, with one default each."""

from __future__ import annotations

import pytest

from meshkit.balancing import (
    DEFAULT_ALGORITHM,
    DEFAULT_PANIC_THRESHOLD,
    DEFAULT_SLOW_START,
    DEFAULT_SLOW_START_AGGRESSION,
    DEFAULT_SLOW_START_MIN_WEIGHT,
    BalancerOptions,
)
from meshkit.clock import FakeClock
from meshkit.errors import InvalidRegistration
from meshkit.health import (
    DEFAULT_FALL,
    DEFAULT_JITTER,
    DEFAULT_OUTLIER_OPTIONS,
    DEFAULT_RISE,
    CheckOptions,
    OutlierOptions,
)
from meshkit.registry import HealthCheckSpec, ServicePolicy, parse_service
from meshkit.registry.policy import DEFAULT_BREAKER_OPTIONS
from meshkit.registry.policy_retry import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_BUDGET_MIN_RETRIES_PER_SECOND,
    DEFAULT_RETRY_BUDGET_RATIO,
    DEFAULT_RETRY_BUDGET_WINDOW,
    DEFAULT_RETRY_OPTIONS,
)
from meshkit.resilience import BulkheadOptions, RetryBudget


def test_the_defaults_are_the_named_ones() -> None:
    policy = ServicePolicy()
    assert policy.options() == BalancerOptions(
        algorithm=DEFAULT_ALGORITHM,
        panic_threshold=DEFAULT_PANIC_THRESHOLD,
        slow_start=DEFAULT_SLOW_START,
        slow_start_aggression=DEFAULT_SLOW_START_AGGRESSION,
        slow_start_min_weight=DEFAULT_SLOW_START_MIN_WEIGHT,
    )
    assert policy.breaker is not None
    assert policy.breaker.options() == DEFAULT_BREAKER_OPTIONS
    assert policy.retry.max_attempts == DEFAULT_MAX_ATTEMPTS
    assert policy.retry.options() == DEFAULT_RETRY_OPTIONS
    assert policy.outlier_detection is None  # the mesh's default
    assert policy.outlier_options(DEFAULT_OUTLIER_OPTIONS) is DEFAULT_OUTLIER_OPTIONS
    assert policy.bulkhead is None
    assert policy.timeout_options() is None


def test_the_budget_defaults_are_the_budgets_own() -> None:
    budget = ServicePolicy().retry.budget.options(FakeClock())
    library = RetryBudget(clock=FakeClock())
    assert (budget.ratio, budget.min_retries_per_second, budget.window) == (
        library.ratio,
        library.min_retries_per_second,
        library.window,
    )
    assert (library.ratio, library.min_retries_per_second, library.window) == (
        DEFAULT_RETRY_BUDGET_RATIO,
        DEFAULT_RETRY_BUDGET_MIN_RETRIES_PER_SECOND,
        DEFAULT_RETRY_BUDGET_WINDOW,
    )


def test_an_empty_outlier_section_is_the_library_default() -> None:
    policy = ServicePolicy.model_validate({"outlier_detection": {}})
    assert policy.outlier_options(None) == DEFAULT_OUTLIER_OPTIONS


def test_the_health_check_defaults_are_the_schedulers() -> None:
    options = HealthCheckSpec(kind="http").options()
    assert (options.jitter, options.rise, options.fall) == (
        DEFAULT_JITTER,
        DEFAULT_RISE,
        DEFAULT_FALL,
    )
    assert options == CheckOptions(interval=10.0, timeout=2.0)


def test_every_key_reaches_its_argument() -> None:
    policy = ServicePolicy.model_validate(
        {
            "algorithm": "least_request",
            "timeout": "3s",
            "panic_threshold": 0.3,
            "slow_start": "20s",
            "slow_start_aggression": 2,
            "slow_start_min_weight": 0.2,
            "retry": {
                "max_attempts": 4,
                "max_total_time": "2s",
                "per_try_timeout": "250ms",
                "backoff": {"kind": "linear", "base": "10ms", "multiplier": 1.5, "max_delay": 2},
                "honor_retry_after": False,
                "max_retry_after": "5s",
                "budget": {
                    "ratio": 0.5,
                    "min_retries_per_second": 1,
                    "window": "30s",
                    "buckets": 6,
                },
            },
            "breaker": {
                "window": "time",
                "window_size": "1m",
                "time_buckets": 12,
                "minimum_calls": 7,
                "failure_rate_threshold": 0.25,
                "slow_call_duration": "800ms",
                "slow_call_rate_threshold": 0.9,
                "consecutive_failures": None,
                "break_duration": "2s",
                "break_duration_multiplier": 3,
                "max_break_duration": "1m",
                "half_open_calls": 4,
                "half_open_successes": 2,
            },
            "outlier_detection": {
                "interval": "5s",
                "base_ejection_time": "15s",
                "max_ejection_time": "2m",
                "max_ejection_percent": 40,
                "consecutive_5xx": 7,
                "consecutive_gateway_failure": 2,
                "success_rate_stdev_factor": None,
                "success_rate_minimum_hosts": 2,
                "success_rate_request_volume": 20,
                "failure_percentage_threshold": 60,
                "failure_percentage_minimum_hosts": 2,
                "failure_percentage_request_volume": 10,
            },
            "bulkhead": {"max_concurrent": 8, "max_queued": 4, "max_queue_wait": "100ms"},
        }
    )
    balancer = policy.options()
    assert (balancer.algorithm, balancer.panic_threshold, balancer.slow_start) == (
        "least_request",
        0.3,
        20.0,
    )
    assert (balancer.slow_start_aggression, balancer.slow_start_min_weight) == (2.0, 0.2)
    assert policy.timeout_options() is not None
    assert policy.timeout_options().seconds == 3.0  # type: ignore[union-attr]
    retry = policy.retry.options()
    assert (retry.max_attempts, retry.max_total_time) == (4, 2.0)
    assert (retry.honor_retry_after, retry.max_retry_after) == (False, 5.0)
    backoff = retry.backoff
    assert (backoff.kind, backoff.base, backoff.multiplier, backoff.max_delay) == (
        "linear",
        0.01,
        1.5,
        2.0,
    )
    attempt = policy.retry.attempt_timeout_options()
    assert attempt is not None
    assert (attempt.seconds, attempt.per_attempt) == (0.25, True)
    budget = policy.retry.budget.options(FakeClock())
    assert (budget.ratio, budget.min_retries_per_second, budget.window) == (0.5, 1.0, 30.0)
    assert policy.breaker is not None
    breaker = policy.breaker.options()
    assert (breaker.window, breaker.window_size, breaker.time_buckets) == ("time", 60.0, 12)
    assert (breaker.minimum_calls, breaker.failure_rate_threshold) == (7, 0.25)
    assert (breaker.slow_call_duration, breaker.slow_call_rate_threshold) == (0.8, 0.9)
    assert breaker.consecutive_failures is None
    assert (breaker.break_duration, breaker.break_duration_multiplier) == (2.0, 3.0)
    assert breaker.max_break_duration == 60.0
    assert (breaker.half_open_calls, breaker.half_open_successes) == (4, 2)
    assert policy.outlier_options(None) == OutlierOptions(
        interval=5,
        base_ejection_time=15,
        max_ejection_time=120,
        max_ejection_percent=40,
        consecutive_5xx=7,
        consecutive_gateway_failure=2,
        success_rate_stdev_factor=None,
        success_rate_minimum_hosts=2,
        success_rate_request_volume=20,
        failure_percentage_threshold=60,
        failure_percentage_minimum_hosts=2,
        failure_percentage_request_volume=10,
    )
    assert policy.bulkhead is not None
    assert policy.bulkhead.options() == BulkheadOptions(
        max_concurrent=8, max_queued=4, max_queue_wait=0.1
    )


def test_the_old_spellings_still_work() -> None:
    policy = ServicePolicy.model_validate({"max_attempts": 3, "breaker": False})
    assert policy.max_attempts == policy.retry.max_attempts == 3
    assert policy.breaker is None
    assert ServicePolicy.model_validate({"breaker": True}).breaker == ServicePolicy().breaker
    merged = ServicePolicy.model_validate({"max_attempts": 2, "retry": {"per_try_timeout": 1}})
    assert (merged.retry.max_attempts, merged.retry.per_try_timeout) == (2, 1.0)


def test_outlier_detection_false_switches_every_detector_off() -> None:
    policy = ServicePolicy.model_validate({"outlier_detection": False})
    assert policy.outlier_options(DEFAULT_OUTLIER_OPTIONS) is None
    assert ServicePolicy.model_validate({"outlier_detection": True}).outlier_detection is None


def test_a_record_survives_json() -> None:
    service = parse_service(
        {"name": "orders", "policy": {"max_attempts": 2, "breaker": {"window_size": 50}}}
    )
    assert type(service).model_validate_json(service.model_dump_json()) == service


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        (
            {"breaker": {"consecutive_failures": 0}},
            "policy.breaker.consecutive_failures: must be >= 1, got 0",
        ),
        (
            {"breaker": {"window_size": 2.5}},
            "policy.breaker.window_size: must be an integer, got 2.5",
        ),
        (
            {"retry": {"budget": {"ratio": -1}}},
            "policy.retry.budget.ratio: must be between 0 and 1000, got -1.0",
        ),
        ({"retry": {"per_try_timeout": 0}}, "policy.retry.per_try_timeout: must be > 0, got 0.0"),
        ({"timeout": "0s"}, "policy.timeout: must be > 0, got 0.0"),
        ({"panic_threshold": 2}, "policy.panic_threshold: must be between 0.0 and 1.0, got 2.0"),
        (
            {"outlier_detection": {"max_ejection_percent": 101}},
            "policy.outlier_detection.max_ejection_percent: must be between 0.0 and 100.0",
        ),
        (
            {"bulkhead": {"max_concurrent": 0}},
            "policy.bulkhead.max_concurrent: must be >= 1, got 0",
        ),
        (
            {"max_attempts": 2, "retry": {"max_attempts": 3}},
            "policy.max_attempts: max_attempts is given twice: keep retry.max_attempts only",
        ),
    ],
)
def test_a_bad_value_is_refused_under_its_key_path(policy: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidRegistration) as info:
        parse_service({"name": "orders", "policy": policy})
    assert problem in str(info.value)


def test_infinity_is_refused() -> None:
    with pytest.raises(InvalidRegistration, match=r"breaker\.break_duration"):
        parse_service({"name": "orders", "policy": {"breaker": {"break_duration": float("inf")}}})
