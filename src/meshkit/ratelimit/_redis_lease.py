"""A few Redis connections kept at hand, so a decision skips the pool's bookkeeping.

Theory of operation
-------------------
``redis.asyncio.Redis.execute_command`` takes a connection from the pool and returns it on
every command; in redis-py 7 that costs a lock, a liveness poll of the socket and several
observability hooks — about a fifth of a loopback round trip. A rate-limit decision is one
small command on the request path, so :class:`ConnectionLease` borrows connections from the
client's own pool and keeps up to ``max_idle`` of them between decisions: taking one is a
``list.pop``. Concurrent decisions borrow more (the pool still bounds the total); those beyond
``max_idle`` go back to the pool when done.

A connection that saw any failure or cancellation may hold half a reply, so it is
disconnected and returned to the pool; the idle ones go too, because what broke one (a Redis
restart, a failover) has usually broken them all, and stale idle connections would otherwise
fail the next decisions one after another. The pool then hands out connections it has checked.
Only public redis-py methods are used (the ones its own pipelines and pub/sub use).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_MAX_IDLE", "ConnectionLease"]

# Sequential callers need one; a gateway's event loop rarely has more than a handful of
# decisions in flight at once, and each idle connection is one socket held open on Redis.
DEFAULT_MAX_IDLE = 8


class ConnectionLease:
    """Borrows connections from ``pool`` (a ``redis.asyncio.ConnectionPool``) and keeps a few."""

    __slots__ = ("_idle", "_max_idle", "_pool")

    def __init__(self, pool: Any, *, max_idle: int = DEFAULT_MAX_IDLE) -> None:
        self._pool = pool
        self._idle: list[Any] = []
        self._max_idle = max_idle

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def acquire(self) -> Any:
        """A connected connection: a kept one if any, else one from the pool."""
        if self._idle:
            return self._idle.pop()
        return await self._pool.get_connection()

    async def checked(self) -> Any:
        """A connection from the pool, never a kept one: the pool makes sure it is connected
        and has no unread data (reconnecting if need be), which a kept one skips."""
        return await self._pool.get_connection()

    async def keep(self, connection: Any) -> None:
        """Take back a connection whose last exchange completed cleanly."""
        if len(self._idle) < self._max_idle:
            self._idle.append(connection)
        else:
            await self._pool.release(connection)

    async def discard(self, connection: Any) -> None:
        """Return a connection in an unknown state, and every idle one, to the pool closed."""
        idle, self._idle = self._idle, []
        for conn in (connection, *idle):
            # nowait: never wait for a close handshake with a server that may be hung
            await conn.disconnect(nowait=True)
            await self._pool.release(conn)

    async def aclose(self) -> None:
        """Give every kept connection back to the pool (open: the pool may reuse it)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._pool.release(conn)
