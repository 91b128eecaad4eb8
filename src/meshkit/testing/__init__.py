"""Fakes for testing code that uses meshkit — the same ones meshkit's own tests use.

* :class:`FakeClock`: time that moves only when the test says so;
* :class:`EventRecorder`: subscribes to an :class:`~meshkit.events.EventBus` and keeps what it saw;
* :class:`FakeUpstream`: a real HTTP/1.1 server on loopback with a status, a delay and a
  ``/health`` you control.
"""

from __future__ import annotations

from meshkit.clock import FakeClock
from meshkit.testing.recorder import EventRecorder
from meshkit.testing.upstream import FakeUpstream

__all__ = ["EventRecorder", "FakeClock", "FakeUpstream"]
