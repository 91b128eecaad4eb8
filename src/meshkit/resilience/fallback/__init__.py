"""Fallbacks, in the file set every policy package has: ``options`` (``FallbackOptions``),
``events`` (``FallbackUsed``), ``core`` (the last-good memory, bounded and aged on the injected
clock) and ``policy`` (``Fallback``, the ``execute`` / ``execute_sync`` wrapper).
"""

from __future__ import annotations

from meshkit.resilience.fallback.events import FallbackUsed
from meshkit.resilience.fallback.options import DEFAULT_MAX_KEYS, FallbackOptions
from meshkit.resilience.fallback.policy import Fallback

__all__ = ["DEFAULT_MAX_KEYS", "Fallback", "FallbackOptions", "FallbackUsed"]
