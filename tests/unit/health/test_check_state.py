"""The rise/fall state machine, walked row by row and along result sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.health import CheckOptions, CheckResult, CheckState, HealthStatus
from meshkit.health.state import TRANSITIONS, Move

U, P, W, C = (
    HealthStatus.UNKNOWN,
    HealthStatus.PASSING,
    HealthStatus.WARNING,
    HealthStatus.CRITICAL,
)


def result(status: HealthStatus, reason: str = "") -> CheckResult:
    return CheckResult(status, reason or status.value)


def feed(state: CheckState, statuses: str) -> list[HealthStatus]:
    """Feed results spelled as letters (P/W/C/U); return the status after each."""
    letters = {"P": P, "W": W, "C": C, "U": U}
    seen = []
    for i, letter in enumerate(statuses):
        state.observe(result(letters[letter]), float(i))
        seen.append(state.status)
    return seen


def test_the_table_covers_every_pair() -> None:
    assert set(TRANSITIONS) == {(a, b) for a in HealthStatus for b in HealthStatus}


@pytest.mark.parametrize(("current", "raw"), list(TRANSITIONS))
def test_each_row_with_thresholds_of_one(current: HealthStatus, raw: HealthStatus) -> None:
    state = CheckState(rise=1, fall=1, initial_status=current)
    change = state.observe(result(raw), 5.0)
    move = TRANSITIONS[current, raw]
    expected = current if move is Move.HOLD else raw
    assert state.status is expected
    if expected is current:
        assert change is None
    else:
        assert change is not None
        assert (change.previous, change.current, change.reason, change.at) == (
            current,
            raw,
            raw.value,
            5.0,
        )
        assert state.since == 5.0


@pytest.mark.parametrize(
    ("rise", "fall", "initial", "results", "expected"),
    [
        # the first result decides from UNKNOWN
        (3, 3, U, "C", [C]),
        (3, 3, U, "P", [P]),
        # fall: three failures in a row take a passing target down
        (2, 3, U, "PCCC", [P, P, P, C]),
        # an answer in between restarts the failure streak
        (2, 3, U, "PCCPCC", [P, P, P, P, P, P]),
        # rise: two answers in a row bring a critical target back; warnings count as answers
        (2, 3, U, "CPCPP", [C, C, C, C, P]),
        (2, 3, U, "CWP", [C, C, P]),
        (2, 3, U, "CPW", [C, C, W]),
        # inside the up side the latest answer decides at once
        (2, 3, U, "PWPW", [P, W, P, W]),
        # warnings do not count as failures toward `fall`
        (2, 2, U, "PCWC", [P, P, W, W]),
        # inconclusive results neither count nor break streaks
        (2, 2, U, "PCUC", [P, P, P, C]),
        (2, 2, C, "PUP", [C, C, P]),
        # Consul-style initial critical: a new target earns `rise` answers first
        (3, 1, C, "PPP", [C, C, P]),
        # initial passing: trusted until `fall` failures
        (1, 2, P, "CC", [P, C]),
    ],
)
def test_sequences(
    rise: int, fall: int, initial: HealthStatus, results: str, expected: list[HealthStatus]
) -> None:
    state = CheckState(rise=rise, fall=fall, initial_status=initial)
    assert feed(state, results) == expected


def test_reason_follows_the_latest_adopted_result() -> None:
    state = CheckState(rise=1, fall=2)
    state.observe(result(P, "200 OK"), 0.0)
    state.observe(result(P, "204 No Content"), 1.0)
    assert state.reason == "204 No Content"
    state.observe(result(C, "refused"), 2.0)  # below `fall`: status and reason stay
    assert (state.status, state.reason) == (P, "204 No Content")
    assert state.last_result == result(C, "refused")
    assert state.streak == (0, 1)


def test_critical_since_and_deregistration_time() -> None:
    state = CheckState.from_options(
        CheckOptions(rise=1, fall=2, deregister_critical_after=60.0), now=0.0
    )
    assert state.deregister_at is None
    state.observe(result(P), 1.0)
    state.observe(result(C), 2.0)
    assert state.critical_since is None
    state.observe(result(C), 3.0)
    assert state.critical_since == 3.0
    assert state.deregister_at == 63.0
    assert not state.deregister_due(62.9)
    assert state.deregister_due(63.0)
    state.observe(result(C), 10.0)  # staying critical does not move the clock of the streak
    assert state.deregister_at == 63.0
    state.observe(result(P), 20.0)
    assert state.deregister_at is None
    assert not state.deregister_due(100.0)


def test_no_deregistration_without_the_option() -> None:
    state = CheckState(initial_status=C)
    assert state.critical_since == 0.0
    assert state.deregister_at is None


@settings(max_examples=200, deadline=None)
@given(
    rise=st.integers(1, 4),
    fall=st.integers(1, 4),
    raws=st.lists(st.sampled_from([P, W, C, U]), max_size=40),
)
def test_crossings_need_full_streaks(rise: int, fall: int, raws: list[HealthStatus]) -> None:
    """Going down needs `fall` critical results in a row; coming back needs `rise` answers."""
    state = CheckState(rise=rise, fall=fall)
    history: list[HealthStatus] = []  # conclusive results so far
    for i, raw in enumerate(raws):
        before = state.status
        change = state.observe(result(raw), float(i))
        if raw is not U:
            history.append(raw)
        after = state.status
        assert (change is None) == (before is after)
        if before.is_up and after is C:
            assert history[-fall:] == [C] * fall
        if before is C and after.is_up:
            assert len(history) >= rise
            assert all(r.is_up for r in history[-rise:])
            assert after is raw
        assert after is not U or not history


def test_results_normalise_plain_strings() -> None:
    assert CheckResult("critical").status is C  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bogus"):
        CheckResult("bogus")  # type: ignore[arg-type]
