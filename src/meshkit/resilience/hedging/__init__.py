"""Hedging, in the file set of every policy package, less one: ``options``, ``events`` and
``policy``. There is no synchronous ``core``: the decision (start the next attempt after
``delay`` or on a failure) is two lines inside the race, which only exists in the wrapper.
"""

from __future__ import annotations

from meshkit.resilience.hedging.events import HedgeStarted
from meshkit.resilience.hedging.options import DEFAULT_MAX_HEDGED_ATTEMPTS, HedgingOptions
from meshkit.resilience.hedging.policy import Hedging

__all__ = ["DEFAULT_MAX_HEDGED_ATTEMPTS", "HedgeStarted", "Hedging", "HedgingOptions"]
