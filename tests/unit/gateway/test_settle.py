"""The settling decision, walked look by look: a version applies only once it stayed the same."""

from __future__ import annotations

from meshkit.gateway.settle import FileStamp, SettleGate, Verdict

OLD = FileStamp.of(b"old", mtime_ns=1)
HALF = FileStamp.of(b"half", mtime_ns=2)
FULL = FileStamp.of(b"half and the rest", mtime_ns=3)


def test_a_new_version_waits_for_the_settling_interval_then_applies_once() -> None:
    gate = SettleGate(3.0, tried=OLD)
    assert gate.observe(OLD, 0.0) is Verdict.IDLE
    assert [gate.observe(FULL, t) for t in (1.0, 2.0, 3.0, 3.9)] == [Verdict.WAIT] * 4
    assert gate.observe(FULL, 4.0) is Verdict.APPLY
    gate.tried_version(FULL)
    assert gate.observe(FULL, 5.0) is Verdict.IDLE


def test_every_change_restarts_the_wait() -> None:
    gate = SettleGate(3.0, tried=OLD)
    assert gate.observe(HALF, 1.0) is Verdict.WAIT
    assert gate.observe(HALF, 3.5) is Verdict.WAIT  # 2.5 s of the half: not yet
    assert gate.observe(FULL, 4.0) is Verdict.WAIT  # the rest arrives: start over
    assert gate.observe(FULL, 6.5) is Verdict.WAIT
    assert gate.observe(FULL, 7.0) is Verdict.APPLY


def test_the_same_bytes_with_a_new_time_or_other_bytes_of_the_same_size_are_new_versions() -> None:
    touched = FileStamp.of(b"old", mtime_ns=9)
    same_size = FileStamp.of(b"new", mtime_ns=1)
    for stamp in (touched, same_size):
        gate = SettleGate(1.0, tried=OLD)
        assert gate.observe(stamp, 0.0) is Verdict.WAIT
        assert gate.observe(stamp, 1.0) is Verdict.APPLY


def test_a_missing_file_is_no_version_and_restarts_the_wait() -> None:
    gate = SettleGate(2.0, tried=OLD)
    assert gate.observe(FULL, 0.0) is Verdict.WAIT
    assert gate.observe(None, 1.0) is Verdict.IDLE  # mid-rename, or deleted: keep serving
    assert gate.observe(FULL, 1.5) is Verdict.WAIT
    assert gate.observe(FULL, 3.5) is Verdict.APPLY


def test_a_refused_version_is_not_tried_again_but_the_next_edit_is() -> None:
    gate = SettleGate(0.0, tried=OLD)
    assert gate.observe(HALF, 0.0) is Verdict.APPLY  # no settling asked: the first look applies
    gate.tried_version(HALF)  # ...and it was invalid
    assert [gate.observe(HALF, t) for t in (1.0, 2.0)] == [Verdict.IDLE] * 2
    assert gate.observe(OLD, 3.0) is Verdict.APPLY  # back to the first version: a new edit
