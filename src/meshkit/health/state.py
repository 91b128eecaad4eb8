"""Turning raw check results into a target's status: the rise/fall state machine.

Theory of operation
-------------------
A single failed probe is weak evidence (a dropped packet, a GC pause), so a target crosses the
line between *up* (``PASSING`` / ``WARNING``) and *down* (``CRITICAL``) only after a streak:
``fall`` consecutive critical results take an up target down, ``rise`` consecutive answering
results (passing or warning) bring a critical target back. Inside the up side there is no
threshold: the latest answer says whether the target is passing or degraded (a 429 is a
deliberate answer, not a flake). ``UNKNOWN`` (the state before any result, unless configured
otherwise) adopts the first result at once, which is how Envoy treats a newly added host.
An ``UNKNOWN`` result (inconclusive) changes nothing.

Every rule is one row of ``TRANSITIONS``; the class below only keeps the two streak counters
and applies the row. It reads no clock: callers pass ``now``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meshkit.health.options import CheckOptions
from meshkit.health.status import CheckResult, HealthStatus

__all__ = ["TRANSITIONS", "CheckState", "Move", "StatusChange"]

_UNKNOWN = HealthStatus.UNKNOWN
_PASSING = HealthStatus.PASSING
_WARNING = HealthStatus.WARNING
_CRITICAL = HealthStatus.CRITICAL


class Move(enum.Enum):
    """What a result does to the status (the cells of the transition table)."""

    ADOPT = "adopt"  # take the result's status now
    TOWARD_CRITICAL = "toward_critical"  # become critical once `fall` failures are in a row
    TOWARD_UP = "toward_up"  # take the result's status once `rise` answers are in a row
    HOLD = "hold"  # inconclusive: keep everything


TRANSITIONS: dict[tuple[HealthStatus, HealthStatus], Move] = {
    # (current status, raw result)    -> move
    (_UNKNOWN, _UNKNOWN): Move.HOLD,
    (_UNKNOWN, _PASSING): Move.ADOPT,
    (_UNKNOWN, _WARNING): Move.ADOPT,
    (_UNKNOWN, _CRITICAL): Move.ADOPT,
    (_PASSING, _UNKNOWN): Move.HOLD,
    (_PASSING, _PASSING): Move.ADOPT,
    (_PASSING, _WARNING): Move.ADOPT,
    (_PASSING, _CRITICAL): Move.TOWARD_CRITICAL,
    (_WARNING, _UNKNOWN): Move.HOLD,
    (_WARNING, _PASSING): Move.ADOPT,
    (_WARNING, _WARNING): Move.ADOPT,
    (_WARNING, _CRITICAL): Move.TOWARD_CRITICAL,
    (_CRITICAL, _UNKNOWN): Move.HOLD,
    (_CRITICAL, _PASSING): Move.TOWARD_UP,
    (_CRITICAL, _WARNING): Move.TOWARD_UP,
    (_CRITICAL, _CRITICAL): Move.ADOPT,
}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The status of a target moved from ``previous`` to ``current`` at ``at`` (monotonic)."""

    previous: HealthStatus
    current: HealthStatus
    reason: str
    at: float


class CheckState:
    """The status of one target, fed one raw result at a time."""

    __slots__ = (
        "_answers",
        "_failures",
        "deregister_after",
        "fall",
        "last_result",
        "reason",
        "rise",
        "since",
        "status",
    )

    def __init__(
        self,
        *,
        rise: int = 1,
        fall: int = 1,
        initial_status: HealthStatus = HealthStatus.UNKNOWN,
        deregister_after: float | None = None,
        now: float = 0.0,
    ) -> None:
        self.rise = rise
        self.fall = fall
        self.deregister_after = deregister_after
        self.status = initial_status
        self.reason = ""
        self.since = now  # when the current status began (critical-since, for deregistration)
        self.last_result: CheckResult | None = None
        self._answers = 0  # consecutive passing/warning results
        self._failures = 0  # consecutive critical results

    @classmethod
    def from_options(cls, options: CheckOptions, now: float) -> CheckState:
        return cls(
            rise=options.rise,
            fall=options.fall,
            initial_status=options.initial_status,
            deregister_after=options.deregister_critical_after,
            now=now,
        )

    @property
    def streak(self) -> tuple[int, int]:
        """``(answers, failures)`` in a row so far (one of them is always 0)."""
        return self._answers, self._failures

    def observe(self, result: CheckResult, now: float) -> StatusChange | None:
        """Apply one raw result; return the change when the status moved."""
        raw = result.status
        if raw is _CRITICAL:
            self._failures += 1
            self._answers = 0
        elif raw is not _UNKNOWN:
            self._answers += 1
            self._failures = 0
        move = TRANSITIONS[self.status, raw]
        if move is Move.HOLD:
            return None
        self.last_result = result
        if move is Move.ADOPT:
            target = raw
        elif move is Move.TOWARD_CRITICAL:
            target = raw if self._failures >= self.fall else self.status
        else:
            target = raw if self._answers >= self.rise else self.status
        if target is self.status:
            if move is Move.ADOPT:
                self.reason = result.reason  # same status, fresher explanation
            return None
        change = StatusChange(self.status, target, result.reason, now)
        self.status = target
        self.reason = result.reason
        self.since = now
        return change

    @property
    def critical_since(self) -> float | None:
        return self.since if self.status is _CRITICAL else None

    @property
    def deregister_at(self) -> float | None:
        """When the target is due for deregistration if it stays critical (else ``None``)."""
        if self.status is not _CRITICAL or self.deregister_after is None:
            return None
        return self.since + self.deregister_after

    def deregister_due(self, now: float) -> bool:
        due = self.deregister_at
        return due is not None and now >= due

    def __repr__(self) -> str:
        return (
            f"CheckState({self.status.value}, since={self.since!r}, "
            f"answers={self._answers}, failures={self._failures})"
        )
