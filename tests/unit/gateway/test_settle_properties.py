"""Properties of the settling decision over any sequence of looks at a changing file."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meshkit.gateway.settle import FileStamp, SettleGate, Verdict

VERSIONS = [FileStamp.of(bytes([n]), mtime_ns=n) for n in range(3)]
# A look: after `gap` seconds, the file is version `n` (or missing, None).
looks = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=5.0),
        st.one_of(st.none(), st.sampled_from(VERSIONS)),
    ),
    max_size=40,
)


@given(looks, st.floats(min_value=0.0, max_value=4.0))
def test_only_a_version_seen_unchanged_for_the_settling_interval_is_applied(
    sequence: list[tuple[float, FileStamp | None]], settle: float
) -> None:
    gate = SettleGate(settle, tried=VERSIONS[0])
    now = 0.0
    history: list[tuple[float, FileStamp | None]] = []
    for gap, stamp in sequence:
        now += gap
        history.append((now, stamp))
        verdict = gate.observe(stamp, now)
        if verdict is Verdict.APPLY:
            assert stamp is not None
            assert stamp != gate.tried
            # Every look since this version first appeared, without a break, saw it...
            first = now
            for when, seen in reversed(history):
                if seen != stamp:
                    break
                first = when
            # ...and that run of looks spans the settling interval.
            assert now - first >= settle
            gate.tried_version(stamp)
        elif stamp is None or stamp == gate.tried:
            assert verdict is Verdict.IDLE
