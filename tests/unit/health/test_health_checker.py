"""The scheduler on a fake clock: schedules, jitter, the concurrency cap, status changes,
timeouts, deregistration, TTL checks, and a clean stop."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError
from meshkit.events import EventBus
from meshkit.health import (
    CheckOptions,
    CheckResult,
    CheckTarget,
    HealthChecker,
    HealthStatus,
    HealthStatusChanged,
    TargetDeregistered,
    TTLCheck,
)
from meshkit.testing import EventRecorder

P, W, C = HealthStatus.PASSING, HealthStatus.WARNING, HealthStatus.CRITICAL


def target(n: int = 1) -> CheckTarget:
    return CheckTarget(instance_id=f"i-{n}", host="10.0.0.1", port=8000 + n)


class Gauge:
    """Counts probes running at once, across many checks."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


class Scripted:
    """Answers from a script of letters (P/W/C, the last one repeats), taking `duration`."""

    def __init__(
        self,
        clock: FakeClock,
        script: str = "P",
        *,
        duration: float = 0.0,
        gauge: Gauge | None = None,
    ) -> None:
        self.clock = clock
        self.script = self._letters(script)
        self.duration = duration
        self.gauge = gauge or Gauge()
        self.calls: list[float] = []

    @staticmethod
    def _letters(script: str) -> Iterator[HealthStatus]:
        statuses = {"P": P, "W": W, "C": C}
        yield from (statuses[s] for s in script)
        while True:
            yield statuses[script[-1]]

    async def check(self, target: CheckTarget) -> CheckResult:
        self.calls.append(self.clock.monotonic())
        self.gauge.enter()
        try:
            if self.duration:
                await self.clock.sleep(self.duration)
            status = next(self.script)
            return CheckResult(status, f"{status.value} #{len(self.calls)}")
        finally:
            self.gauge.leave()


class Hanging:
    def __init__(self) -> None:
        self.cancelled = 0

    async def check(self, target: CheckTarget) -> CheckResult:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")


def options(**kw: object) -> CheckOptions:
    values: dict[str, object] = {
        "interval": 5.0,
        "jitter": 0.0,
        "timeout": 1.0,
        "rise": 1,
        "fall": 1,
    }
    values.update(kw)
    return CheckOptions(**values)  # type: ignore[arg-type]


def test_max_concurrent_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_concurrent"):
        HealthChecker(max_concurrent=0)


async def test_probes_follow_the_interval(clock: FakeClock) -> None:
    check = Scripted(clock)
    checker = HealthChecker(clock=clock)
    checker.add(target(), check, options(interval=5.0))
    async with checker:
        await clock.run_for(15)
    assert check.calls == [0.0, 5.0, 10.0, 15.0]


async def test_the_wait_starts_when_the_probe_ends(clock: FakeClock) -> None:
    check = Scripted(clock, duration=0.5)
    checker = HealthChecker(clock=clock)
    checker.add(target(), check, options(interval=5.0))
    async with checker:
        await clock.run_for(12)
    assert check.calls == [0.0, 5.5, 11.0]


async def test_jitter_spreads_the_waits_within_bounds(clock: FakeClock) -> None:
    check = Scripted(clock)
    checker = HealthChecker(clock=clock, rng=random.Random(7))
    checker.add(target(), check, options(interval=10.0, jitter=0.5))
    async with checker:
        await clock.run_for(500)
    first, gaps = (
        check.calls[0],
        [b - a for a, b in zip(check.calls, check.calls[1:], strict=False)],
    )
    assert 0.0 <= first <= 5.0
    assert len(gaps) > 30
    assert all(5.0 <= gap <= 15.0 for gap in gaps)
    assert len({round(gap, 6) for gap in gaps}) > len(gaps) // 2  # really random
    assert 9.0 < sum(gaps) / len(gaps) < 11.0  # centred on the interval


async def test_same_seed_same_schedule() -> None:
    schedules = []
    for _ in range(2):
        clock = FakeClock()
        check = Scripted(clock)
        checker = HealthChecker(clock=clock, rng=random.Random(42))
        checker.add(target(), check, options(interval=1.0, jitter=0.3))
        async with checker:
            await clock.run_for(20)
        schedules.append(check.calls)
    assert schedules[0] == schedules[1]


async def test_concurrency_cap_holds_across_200_targets(clock: FakeClock) -> None:
    gauge = Gauge()
    checks = [Scripted(clock, duration=0.5, gauge=gauge) for _ in range(200)]
    checker = HealthChecker(clock=clock, max_concurrent=16, rng=random.Random(1))
    for n, check in enumerate(checks):
        checker.add(target(n), check, options(interval=1.0, jitter=0.2, timeout=1.0))
    peak_in_flight = 0
    async with checker:
        for _ in range(100):
            await clock.run_for(0.1)
            peak_in_flight = max(peak_in_flight, checker.in_flight)
    assert gauge.peak == 16  # the cap was reached, never passed
    assert peak_in_flight <= 16
    counts = [len(check.calls) for check in checks]
    assert sum(counts) >= 16 * 2 * 9  # the slots stayed busy: ~16 probes per 0.5 s
    assert min(counts) >= 1
    assert max(counts) - min(counts) <= 1  # slots are handed out in turn: nobody starves
    assert checker.statuses() == {f"i-{n}": P for n in range(200)}


async def test_status_changes_go_to_the_callback_and_the_bus(
    clock: FakeClock, bus: EventBus, recorder: EventRecorder
) -> None:
    seen: list[HealthStatusChanged] = []
    checker = HealthChecker(clock=clock, events=bus, on_change=seen.append, name="hc")
    checker.add(target(), Scripted(clock, "PCCWC"), options(rise=1, fall=2))
    async with checker:
        await clock.run_for(20)
    transitions = [(e.previous, e.current, e.reason) for e in seen]
    assert transitions == [
        (HealthStatus.UNKNOWN, P, "passing #1"),
        (P, C, "critical #3"),
        (C, W, "warning #4"),
    ]
    assert recorder.of(HealthStatusChanged) == seen
    assert all(e.source == "hc" and e.target == target() for e in seen)
    assert checker.status("i-1") is W  # a single critical after it is below `fall`
    assert checker.state("i-1").reason == "warning #4"


async def test_a_failing_callback_does_not_stop_checking(clock: FakeClock) -> None:
    def broken(event: HealthStatusChanged) -> None:
        raise RuntimeError("observer bug")

    check = Scripted(clock, "PC")
    checker = HealthChecker(clock=clock, on_change=broken)
    checker.add(target(), check, options())
    async with checker:
        await clock.run_for(10)
    assert len(check.calls) == 3
    assert checker.status("i-1") is C


async def test_a_hanging_target_times_out_and_turns_critical(clock: FakeClock) -> None:
    hanging = Hanging()
    checker = HealthChecker(clock=clock)
    checker.add(target(), hanging, options(interval=5.0, timeout=0.5))
    async with checker:
        await clock.run_for(0.49)
        assert checker.status("i-1") is HealthStatus.UNKNOWN
        await clock.run_for(0.01)
        assert checker.status("i-1") is C
        assert checker.state("i-1").reason == "timed out after 0.5s"
        await clock.run_for(5.5)
    assert hanging.cancelled == 2


async def test_deregistration_after_staying_critical(
    clock: FakeClock, bus: EventBus, recorder: EventRecorder
) -> None:
    gone: list[CheckTarget] = []
    check = Scripted(clock, "C")
    checker = HealthChecker(clock=clock, events=bus, on_deregister=gone.append)
    checker.add(target(), check, options(deregister_critical_after=30.0))
    async with checker:
        await clock.run_for(29.9)
        assert gone == []
        await clock.run_for(0.1)
        assert gone == [target()]
        assert "i-1" not in checker
        calls = len(check.calls)
        await clock.run_for(100)
    assert gone == [target()]
    assert len(check.calls) == calls
    [event] = recorder.of(TargetDeregistered)
    assert (event.target, event.critical_for) == (target(), 30.0)


async def test_recovery_cancels_deregistration(clock: FakeClock) -> None:
    gone: list[CheckTarget] = []
    checker = HealthChecker(clock=clock, on_deregister=gone.append)
    checker.add(target(), Scripted(clock, "CCCCP"), options(deregister_critical_after=30.0))
    async with checker:
        await clock.run_for(200)
    assert gone == []
    assert checker.status("i-1") is P


async def test_critical_time_restarts_after_a_recovery(clock: FakeClock) -> None:
    gone: list[float] = []
    checker = HealthChecker(clock=clock, on_deregister=lambda t: gone.append(clock.monotonic()))
    # critical at 0, passing at 20, critical again from 25: due at 25 + 30
    checker.add(target(), Scripted(clock, "CCCCPC"), options(deregister_critical_after=30.0))
    async with checker:
        await clock.run_for(100)
    assert gone == [55.0]


async def test_async_deregistration_callback_runs_as_a_task(clock: FakeClock) -> None:
    done: list[str] = []

    async def deregister(t: CheckTarget) -> None:
        await clock.sleep(1)
        done.append(t.instance_id)

    checker = HealthChecker(clock=clock, on_deregister=deregister)
    checker.add(target(), Scripted(clock, "C"), options(deregister_critical_after=10.0))
    async with checker:
        await clock.run_for(12)
    assert done == ["i-1"]


async def test_stop_cancels_everything_and_start_resumes(clock: FakeClock) -> None:
    hanging = Hanging()
    check = Scripted(clock)
    checker = HealthChecker(clock=clock)
    checker.add(target(1), hanging, options(timeout=5.0))
    checker.add(target(2), check, options(deregister_critical_after=10.0))
    await checker.start()
    await clock.run_for(1)
    assert checker.in_flight == 1
    await checker.stop()
    assert hanging.cancelled == 1
    assert checker.in_flight == 0
    assert clock.pending_timers == 0
    assert not checker.running
    calls = len(check.calls)
    await clock.run_for(50)
    assert len(check.calls) == calls
    await checker.start()
    await clock.run_for(0)
    assert len(check.calls) == calls + 1
    await checker.stop()


async def test_targets_added_and_removed_while_running(clock: FakeClock) -> None:
    first, second = Scripted(clock), Scripted(clock)
    checker = HealthChecker(clock=clock)
    async with checker:
        checker.add(target(1), first, options())
        await clock.run_for(6)
        assert first.calls == [0.0, 5.0]
        checker.add(target(1), second, options())  # same id: replaces
        await clock.run_for(6)
        assert first.calls == [0.0, 5.0]
        assert second.calls == [6.0, 11.0]
        assert checker.remove("i-1")
        assert not checker.remove("i-1")
        await clock.run_for(20)
        assert second.calls == [6.0, 11.0]
        assert len(checker) == 0


async def test_ttl_checks_follow_heartbeats(clock: FakeClock, bus: EventBus) -> None:
    recorder = EventRecorder(bus)
    ttl = TTLCheck(10, clock=clock)
    gone: list[CheckTarget] = []
    checker = HealthChecker(clock=clock, events=bus, on_deregister=gone.append)
    checker.add_ttl(target(), ttl, deregister_critical_after=60.0)
    async with checker:
        assert checker.status("i-1") is C  # no heartbeat yet
        ttl.pass_("ok")
        assert checker.status("i-1") is P
        await clock.run_for(9)
        ttl.warn("lagging")
        assert checker.status("i-1") is W
        await clock.run_for(10)
        assert checker.status("i-1") is C
        assert checker.state("i-1").reason == "TTL of 10s expired"
        await clock.run_for(60)
        assert gone == [target()]
    currents = [e.current for e in recorder.of(HealthStatusChanged)]
    assert currents == [C, P, W, C]
    ttl.pass_()  # no longer followed: nothing happens
    assert len(recorder.of(HealthStatusChanged)) == 4


async def test_summary_aggregates_statuses(clock: FakeClock) -> None:
    checker = HealthChecker(clock=clock)
    for n, script in enumerate(["P", "P", "W", "C"]):
        checker.add(target(n), Scripted(clock, script), options())
    async with checker:
        await clock.run_for(0)
    summary = checker.summary()
    assert (summary.total, summary.healthy, summary.status) == (4, 3, W)
    assert checker.summary(["i-0", "i-1"]).status is P
    assert checker.summary(["i-3", "nope"]).status is C


async def test_a_thousand_targets_at_one_second_keep_their_schedule(clock: FakeClock) -> None:
    gauge = Gauge()
    checks = [Scripted(clock, duration=0.02, gauge=gauge) for _ in range(1000)]
    checker = HealthChecker(clock=clock, rng=random.Random(3))  # default cap: 64
    for n, check in enumerate(checks):
        checker.add(target(n), check, options(interval=1.0, jitter=0.1, timeout=0.5))
    async with checker:
        await clock.run_for(10.0, settle_rounds=4)
    assert gauge.peak == 64  # the start-up burst hit the cap and went no further
    counts = [len(check.calls) for check in checks]
    assert min(counts) >= 9  # every target probed about once a second despite the cap
