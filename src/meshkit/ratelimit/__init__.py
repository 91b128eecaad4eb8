"""Rate limiting: local algorithms, keyed limiters, and a Redis backend."""

from __future__ import annotations

from meshkit.ratelimit._decision import Decision

__all__ = ["Decision"]
