"""The answer every rate limiter gives, local or distributed."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Decision"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One rate-limit decision.

    ``allowed``: whether the request (of ``cost`` units) may go;
    ``limit``: the quota the window or bucket holds (for ``RateLimit-Limit``);
    ``remaining``: units left after this decision (for ``RateLimit-Remaining``);
    ``reset_after``: seconds until the quota is fully restored (for ``RateLimit-Reset``);
    ``retry_after``: seconds until a request of the same cost could pass (0 when allowed;
    ``inf`` when the cost exceeds what the limiter can ever admit).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float

    def headers(self) -> list[tuple[bytes, bytes]]:
        """``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (whole seconds, at least 1), as
        an HTTP answer carries them (IETF draft ``ratelimit-headers``)."""
        return [
            (b"ratelimit-limit", b"%d" % self.limit),
            (b"ratelimit-remaining", b"%d" % self.remaining),
            (b"ratelimit-reset", b"%d" % max(1, math.ceil(self.reset_after))),
        ]
