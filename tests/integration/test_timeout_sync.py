"""The synchronous timeout waits in real time on a worker thread (it cannot use FakeClock)."""

from __future__ import annotations

import threading

import pytest

from meshkit.errors import TimeoutExceeded
from meshkit.resilience.timeout import Timeout, TimeoutOptions


def test_blocking_function_is_abandoned_at_the_deadline() -> None:
    release = threading.Event()
    finished = threading.Event()

    def blocked() -> str:
        release.wait(30)
        finished.set()
        return "late"

    timeout = Timeout(TimeoutOptions(seconds=0.05))
    with pytest.raises(TimeoutExceeded):
        timeout.execute_sync(blocked)
    release.set()  # let the abandoned worker end
    assert finished.wait(30)


def test_sync_errors_pass_through_unchanged() -> None:
    error = ValueError("mine")

    def fail() -> None:
        raise error

    with pytest.raises(ValueError, match="mine") as info:
        Timeout(TimeoutOptions(seconds=5)).execute_sync(fail)
    assert info.value is error
