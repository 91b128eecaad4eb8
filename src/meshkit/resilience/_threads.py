"""Worker threads for the sync paths that must not block the caller past a deadline.

A plain function cannot be interrupted in Python, so the sync timeout and sync hedging run it
on a worker and stop *waiting* for it. The pools are made on first use (most programs never
need them) and shared per purpose; an abandoned call holds its worker until it returns.
"""

from __future__ import annotations

import concurrent.futures
import threading

__all__ = ["worker_pool"]

_WORKERS = 32
_pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
_lock = threading.Lock()


def worker_pool(purpose: str) -> concurrent.futures.ThreadPoolExecutor:
    """The shared pool for ``purpose`` (its threads are named ``meshkit-<purpose>``)."""
    pool = _pools.get(purpose)
    if pool is None:
        with _lock:
            pool = _pools.get(purpose)
            if pool is None:
                pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=_WORKERS, thread_name_prefix=f"meshkit-{purpose}"
                )
                _pools[purpose] = pool
    return pool
