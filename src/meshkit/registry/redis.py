"""The shared store: several nodes keep one catalog in Redis and hear each other's changes.

Layout (``ns`` = the namespace): hash ``ns:registry:services`` (name → JSON record), hash
``ns:registry:instances`` (id → JSON record), channel ``ns:registry:changes``. Every write is
one MULTI/EXEC transaction that changes the hash *and* publishes the change, so a node never
sees a change announced that is not stored, or stored but never announced.

``follow`` subscribes (and waits for Redis to confirm) before the registry loads the state, so
no change can fall between the load and the subscription. Each node skips its own messages
(they carry its ``node_id``). When the subscription connection drops, the listener retries
every ``reconnect_delay`` seconds; once subscribed again it calls ``resync`` — changes
published while it was away are lost to it, so the registry re-reads the whole state and
applies the difference. Errors from Redis on writes become
:class:`~meshkit.errors.StoreError`; the registry then leaves its catalog unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from meshkit.clock import SYSTEM_CLOCK, Clock
from meshkit.errors import StoreError
from meshkit.registry.models import Instance, Service
from meshkit.registry.store import (
    ApplyRemote,
    ResyncRemote,
    decode_instance,
    decode_service,
    encode,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

T = TypeVar("T")
_log = logging.getLogger("meshkit.registry")


class RedisStore:
    """The catalog in Redis at ``client``, shared by every node using ``namespace``."""

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str = "meshkit",
        node_id: str | None = None,
        reconnect_delay: float = 0.5,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        # redis-py types its commands as "awaitable or not" (one stub for sync and asyncio);
        # this client is always the asyncio one.
        self._client: Any = client
        self.namespace = namespace
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self.reconnect_delay = reconnect_delay
        self._clock = clock
        self._services_key = f"{namespace}:registry:services"
        self._instances_key = f"{namespace}:registry:instances"
        self.channel = f"{namespace}:registry:changes"
        self._listener: asyncio.Task[None] | None = None
        self.reconnects = 0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 2.0, **kwargs: Any) -> RedisStore:
        """A store with its own client: bounded socket timeouts, and a periodic PING on the
        subscription so a silently dead connection is noticed."""
        from redis.asyncio import Redis

        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=5,
            client_name="meshkit-registry",
        )
        return cls(client, **kwargs)

    async def open(self) -> None:
        await self._call(self._client.ping)

    async def load(self) -> tuple[list[Service], list[Instance]]:
        services = await self._call(lambda: self._client.hvals(self._services_key))
        instances = await self._call(lambda: self._client.hvals(self._instances_key))
        return [decode_service(s) for s in services], [decode_instance(i) for i in instances]

    async def put_service(self, service: Service) -> None:
        record = encode(service)
        await self._transaction(
            lambda pipe: pipe.hset(self._services_key, service.name, record),
            "put_service",
            record,
        )

    async def delete_service(self, name: str) -> None:
        records = await self._call(lambda: self._client.hgetall(self._instances_key))
        ids = [key for key, value in records.items() if decode_instance(value).service == name]

        def delete(pipe: Any) -> None:
            pipe.hdel(self._services_key, name)
            if ids:
                pipe.hdel(self._instances_key, *ids)

        await self._transaction(delete, "delete_service", name)

    async def put_instance(self, instance: Instance) -> None:
        record = encode(instance)
        await self._transaction(
            lambda pipe: pipe.hset(self._instances_key, instance.id, record),
            "put_instance",
            record,
        )

    async def delete_instance(self, instance_id: str) -> None:
        await self._transaction(
            lambda pipe: pipe.hdel(self._instances_key, instance_id),
            "delete_instance",
            instance_id,
        )

    async def follow(self, apply: ApplyRemote, resync: ResyncRemote) -> None:
        pubsub = await self._subscribe()
        self._listener = asyncio.create_task(self._listen(pubsub, apply, resync))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._client.aclose()

    # -- internals ---------------------------------------------------------------------------
    async def _subscribe(self) -> Any:
        pubsub = self._client.pubsub()
        await pubsub.subscribe(self.channel)
        # Wait for Redis to confirm, so nothing published after this returns is missed.
        while (await pubsub.get_message(timeout=1.0)) is None:
            pass
        return pubsub

    async def _listen(self, pubsub: Any, apply: ApplyRemote, resync: ResyncRemote) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    self._deliver(message["data"], apply)
                continue
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception as exc:  # the connection dropped: Redis restarted, killed, gone
                _log.warning("registry subscription lost (%r); reconnecting", exc)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            pubsub = await self._resubscribe()
            self.reconnects += 1
            await resync()

    async def _resubscribe(self) -> Any:
        while True:
            await self._clock.sleep(self.reconnect_delay)
            try:
                return await self._subscribe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.debug("registry resubscribe failed: %r", exc)

    def _deliver(self, data: bytes | str, apply: ApplyRemote) -> None:
        try:
            message = json.loads(data)
            if message.get("node") == self.node_id:
                return
            op, payload = message["op"], message["payload"]
            if op == "put_service":
                apply(op, decode_service(payload))
            elif op == "put_instance":
                apply(op, decode_instance(payload))
            elif op in {"delete_service", "delete_instance"}:
                apply(op, str(payload))
        except Exception:  # a bad message must not stop the listener
            _log.exception("ignoring a registry message that could not be applied")

    async def _transaction(self, stage: Callable[[Any], object], op: str, payload: str) -> None:
        message = json.dumps({"node": self.node_id, "op": op, "payload": payload})

        async def run() -> object:
            async with self._client.pipeline(transaction=True) as pipe:
                stage(pipe)
                pipe.publish(self.channel, message)
                return await pipe.execute()

        await self._call(run)

    async def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise StoreError(f"Redis registry store ({self.namespace}): {exc!r}") from exc

    def __repr__(self) -> str:
        return f"RedisStore(namespace={self.namespace!r}, node_id={self.node_id!r})"
