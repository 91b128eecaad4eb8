"""Timeouts, in the file set of every policy package, less one: ``options``, ``events`` and
``policy``. There is no synchronous ``core``: a timeout's whole job is cancelling work in
flight, which only the wrapper has (a caller driving its own attempts, the gateway, arms its
own timer from ``TimeoutOptions.seconds`` or ``RetryOptions.per_try_timeout``).
"""

from __future__ import annotations

from meshkit.resilience.timeout.events import TimeoutOccurred
from meshkit.resilience.timeout.options import TimeoutOptions
from meshkit.resilience.timeout.policy import Timeout

__all__ = ["Timeout", "TimeoutOccurred", "TimeoutOptions"]
