"""Fakes for testing code that uses meshkit — the same ones meshkit's own tests use.

* :class:`FakeClock`: time that moves only when the test says so;
* :class:`EventRecorder`: subscribes to an :class:`~meshkit.events.EventBus` and keeps what it saw.
"""

from __future__ import annotations

from meshkit.clock import FakeClock
from meshkit.testing.recorder import EventRecorder

__all__ = ["EventRecorder", "FakeClock"]
