"""The exchange's state table, walked: every state is reachable, every state can end, DONE
is final, and the masks the exchange checks say exactly what the table says."""

from __future__ import annotations

import pytest

from meshkit.gateway import exchange_state as table
from meshkit.gateway.exchange_state import (
    ALLOWED,
    TRANSITIONS,
    ExchangeState,
    IllegalTransition,
    allowed_masks,
)

S = ExchangeState


def _reachable(start: ExchangeState) -> set[ExchangeState]:
    seen, todo = {start}, [start]
    while todo:
        for target in TRANSITIONS[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(ExchangeState)


def test_every_state_is_reachable_from_received() -> None:
    assert _reachable(S.RECEIVED) == set(ExchangeState)


@pytest.mark.parametrize("state", list(ExchangeState))
def test_every_state_can_end(state: ExchangeState) -> None:
    assert S.DONE in _reachable(state)


def test_done_is_final_and_nothing_returns_to_received() -> None:
    assert TRANSITIONS[S.DONE] == frozenset()
    assert all(S.RECEIVED not in targets for targets in TRANSITIONS.values())


@pytest.mark.parametrize(
    ("state", "targets"),
    [
        # once the response has started, only the end remains
        (S.RESPONDING, {S.DONE}),
        (S.TUNNEL, {S.DONE}),
        # buffering a body never waits for filters again, nor skips the connection
        (S.BUFFERING, {S.CONNECTING, S.DONE}),
        (S.BACKING_OFF, {S.CONNECTING, S.DONE}),
    ],
)
def test_rows_that_matter(state: ExchangeState, targets: set[ExchangeState]) -> None:
    assert TRANSITIONS[state] == targets


def test_the_masks_are_the_table() -> None:
    assert allowed_masks() == ALLOWED
    for source in ExchangeState:
        for target in ExchangeState:
            allowed = bool(ALLOWED[source] >> target & 1)
            assert allowed == (target in TRANSITIONS[source]), (source.name, target.name)


def test_the_constants_are_the_enum() -> None:
    for state in ExchangeState:
        assert getattr(table, state.name) == state.value


def test_an_illegal_move_names_both_states() -> None:
    error = IllegalTransition(S.DONE, S.RESPONDING)
    assert str(error) == "exchange cannot go from DONE to RESPONDING"
