"""TTL heartbeats expire on the fake clock."""

from __future__ import annotations

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError
from meshkit.health import CheckResult, HealthStatus, TTLCheck


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="ttl"):
        TTLCheck(0)


def test_critical_before_the_first_heartbeat(clock: FakeClock) -> None:
    ttl = TTLCheck(10, clock=clock)
    assert ttl.result == CheckResult.critical("no heartbeat yet")
    assert ttl.expires_at is None


def test_a_heartbeat_holds_for_ttl_seconds(clock: FakeClock) -> None:
    ttl = TTLCheck(10, clock=clock)
    heard: list[CheckResult] = []
    ttl.subscribe(heard.append)
    ttl.pass_("alive")
    assert heard == [CheckResult.passing("alive")]
    clock.advance(9.999)
    assert ttl.result.status is HealthStatus.PASSING
    assert len(heard) == 1
    clock.advance(0.001)
    assert heard[-1] == CheckResult.critical("TTL of 10s expired")
    assert ttl.result == heard[-1]
    assert ttl.expires_at is None


def test_each_report_restarts_the_ttl(clock: FakeClock) -> None:
    ttl = TTLCheck(10, clock=clock)
    heard: list[HealthStatus] = []
    ttl.subscribe(lambda r: heard.append(r.status))
    ttl.pass_()
    clock.advance(8)
    ttl.warn("queue deep")
    clock.advance(8)
    assert ttl.result == CheckResult.warning("queue deep")
    ttl.fail("db down")
    clock.advance(10)
    assert heard == [
        HealthStatus.PASSING,
        HealthStatus.WARNING,
        HealthStatus.CRITICAL,
        HealthStatus.CRITICAL,
    ]
    assert clock.pending_timers == 0


def test_result_at_applies_expiry_without_the_timer(clock: FakeClock) -> None:
    ttl = TTLCheck(5, clock=clock)
    ttl.pass_()
    assert ttl.result_at(4.9).status is HealthStatus.PASSING
    assert ttl.result_at(5.0).status is HealthStatus.CRITICAL


def test_unsubscribe_and_close(clock: FakeClock) -> None:
    ttl = TTLCheck(5, clock=clock)
    heard: list[CheckResult] = []
    unsubscribe = ttl.subscribe(heard.append)
    ttl.pass_()
    unsubscribe()
    ttl.pass_()
    assert len(heard) == 1
    ttl.close()
    assert clock.pending_timers == 0
    clock.advance(100)
    assert len(heard) == 1


def test_a_failing_listener_does_not_break_the_others(clock: FakeClock) -> None:
    ttl = TTLCheck(5, clock=clock)
    heard: list[CheckResult] = []

    def broken(result: CheckResult) -> None:
        raise RuntimeError("listener bug")

    ttl.subscribe(broken)
    ttl.subscribe(heard.append)
    ttl.pass_()
    assert len(heard) == 1
