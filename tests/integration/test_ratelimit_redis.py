"""RedisRateLimiter against the real Redis, a dead port, a hung server and a switchable proxy.

Only the tests marked ``redis`` need the server at ``REDIS_URL``; the others make their own
sockets (a port nobody listens on, a server that never answers).

Nothing here asserts how long anything took. Refill is shown by rewinding the stored
timestamp (as if time had passed) instead of sleeping; the shared-limit bound is checked
against Redis' own clock; hangs are caught by an outer ``asyncio.timeout`` that fails the test.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from meshkit.clock import FakeClock
from meshkit.errors import ConfigError
from meshkit.events import EventBus
from meshkit.ratelimit import Decision
from meshkit.ratelimit.redis import (
    RateLimitBackendFailed,
    RateLimitBackendRecovered,
    RedisRateLimiter,
    RedisRateLimitOptions,
)
from meshkit.testing import EventRecorder

ALGORITHMS = ["token_bucket", "gcra"]
GENEROUS = 5.0  # outer bound: a call still pending after this is a hang, and fails the test

MakeLimiter = Callable[..., RedisRateLimiter]


@pytest.fixture
async def make_limiter(redis_client: Redis, redis_namespace: str) -> AsyncIterator[MakeLimiter]:
    """Limiters on the real Redis, in the test's own namespace (cleaned up afterwards)."""

    def make(
        client: Redis | None = None, *, events: EventBus | None = None, **options: Any
    ) -> RedisRateLimiter:
        options.setdefault("namespace", redis_namespace)
        return RedisRateLimiter(
            client or redis_client, RedisRateLimitOptions(**options), events=events
        )

    yield make
    keys = [key async for key in redis_client.scan_iter(match=f"{redis_namespace}:*")]
    if keys:
        await redis_client.delete(*keys)


async def decide_all(limiter: RedisRateLimiter, key: str, count: int) -> list[Decision]:
    return [await limiter.decide(key) for _ in range(count)]


async def server_micros(client: Redis) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1_000_000 + int(micros)


async def rewind(client: Redis, redis_key: str, seconds: float) -> None:
    """Make the stored state look ``seconds`` older, as if that much time had passed."""
    stamp = float(await client.hget(redis_key, "ts"))
    await client.hset(redis_key, "ts", repr(stamp - seconds * 1e6))


# -- the algorithm, through the script ------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_burst_is_admitted_then_denied(make_limiter: MakeLimiter, algorithm: str) -> None:
    limiter = make_limiter(algorithm=algorithm, rate=0.01, burst=5)  # one unit per 100 s

    decisions = await decide_all(limiter, "client-a", 6)

    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert all(d.limit == 5 and d.retry_after == 0 for d in decisions[:5])
    assert 99 < decisions[5].retry_after <= 100  # one unit short, at 100 s per unit
    assert 99 < decisions[0].reset_after <= 100  # one unit taken: full again in 100 s
    assert 499 < decisions[4].reset_after <= 500
    # another key has a bucket of its own
    assert (await limiter.decide("client-b")).remaining == 4


@pytest.mark.redis
@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_cost_is_charged_in_units(make_limiter: MakeLimiter, algorithm: str) -> None:
    limiter = make_limiter(algorithm=algorithm, rate=0.01, burst=5)

    first = await limiter.decide("k", 3)
    too_much = await limiter.decide("k", 3)
    rest = await limiter.decide("k", 2)

    assert (first.allowed, first.remaining) == (True, 2)
    assert (too_much.allowed, too_much.remaining) == (False, 2)
    assert 99 < too_much.retry_after <= 100  # needs one more unit
    assert (rest.allowed, rest.remaining) == (True, 0)


@pytest.mark.redis
@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_refill_follows_elapsed_server_time(
    redis_client: Redis, make_limiter: MakeLimiter, algorithm: str
) -> None:
    limiter = make_limiter(algorithm=algorithm, rate=1, burst=5)
    assert all(d.allowed for d in await decide_all(limiter, "k", 5))

    await rewind(redis_client, limiter.redis_key("k"), 3.0)  # three units refilled
    after_three = await decide_all(limiter, "k", 4)
    assert [d.allowed for d in after_three] == [True, True, True, False]
    assert 0 < after_three[3].retry_after <= 1.0  # the next unit is at most one interval away

    await rewind(redis_client, limiter.redis_key("k"), 60.0)  # refill stops at the burst
    after_a_minute = await decide_all(limiter, "k", 6)
    assert [d.allowed for d in after_a_minute] == [True] * 5 + [False]


@pytest.mark.redis
@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_keys_are_namespaced_and_expire_when_full_again(
    redis_client: Redis, make_limiter: MakeLimiter, redis_namespace: str, algorithm: str
) -> None:
    limiter = make_limiter(algorithm=algorithm, rate=2, burst=10)

    decision = await limiter.decide("user-1", 4)

    key = f"{redis_namespace}:{algorithm}:user-1"
    assert limiter.redis_key("user-1") == key
    assert [k async for k in redis_client.scan_iter(match=f"{redis_namespace}:*")] == [key.encode()]
    assert 1.9 < decision.reset_after <= 2.0  # 4 units at 2 per second
    assert 0 < await redis_client.pttl(key) <= math.ceil(decision.reset_after * 1000)


@pytest.mark.redis
@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_concurrent_clients_never_exceed_burst_plus_rate_times_elapsed(
    redis_client: Redis, make_limiter: MakeLimiter, algorithm: str
) -> None:
    rate, burst = 200.0, 20
    clients = [Redis(**_address(redis_client)) for _ in range(4)]
    # closed + a generous timeout: a slow answer may only ever deny, and none should be slow
    limiters = [
        make_limiter(c, algorithm=algorithm, rate=rate, burst=burst, failure_mode="closed",
                     timeout=GENEROUS)
        for c in clients
    ]  # fmt: skip

    async def worker(limiter: RedisRateLimiter) -> list[Decision]:
        return await decide_all(limiter, "shared", 25)

    try:
        start = await server_micros(redis_client)
        async with asyncio.timeout(30):
            results = await asyncio.gather(*(worker(lim) for lim in limiters for _ in range(8)))
        end = await server_micros(redis_client)
    finally:
        for c in clients:
            await c.aclose()

    decisions = [d for batch in results for d in batch]
    admitted = sum(d.allowed for d in decisions)
    elapsed = (end - start) / 1e6
    assert len(decisions) == 4 * 8 * 25
    assert burst <= admitted <= burst + rate * elapsed + 1e-9
    assert all(d.retry_after > 0 for d in decisions if not d.allowed)
    assert sum(lim.stats.failures for lim in limiters) == 0


@pytest.mark.redis
@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_lost_script_cache_is_reloaded_in_the_same_call(
    redis_client: Redis, make_limiter: MakeLimiter, algorithm: str
) -> None:
    limiter = make_limiter(algorithm=algorithm, rate=0.01, burst=5)
    assert (await limiter.decide("k")).remaining == 4
    loads_before = limiter.stats.script_loads  # 1 if an earlier test had flushed the cache

    await redis_client.script_flush()
    after_flush = await limiter.decide("k")
    again = await limiter.decide("k")

    assert (after_flush.allowed, after_flush.remaining) == (True, 3)  # state survived
    assert (again.allowed, again.remaining) == (True, 2)
    assert limiter.stats.script_loads == loads_before + 1  # EVAL cached it again: one reload
    assert limiter.stats.failures == 0


@pytest.mark.redis
async def test_a_killed_idle_connection_is_replaced_not_taken_for_an_outage(
    redis_client: Redis, make_limiter: MakeLimiter, redis_namespace: str
) -> None:
    name = redis_namespace.replace(":", "-")  # to find the limiter's connections on the server
    client = Redis(**_address(redis_client), client_name=name)
    # closed: a decision by the failure mode would be a denial with retry_after 1.0
    limiter = make_limiter(client, rate=0.01, burst=5, failure_mode="closed", timeout=GENEROUS)
    try:
        assert (await limiter.decide("k")).remaining == 4  # leaves its connection idle
        ids = [c["id"] for c in await redis_client.client_list() if c.get("name") == name]
        assert len(ids) == 1
        assert await redis_client.client_kill_filter(_id=ids[0]) == 1

        after_kill = await limiter.decide("k")
    finally:
        await limiter.aclose()
        await client.aclose()

    assert (after_kill.allowed, after_kill.remaining) == (True, 3)  # Redis decided
    assert (limiter.stats.failures, limiter.stats.fallbacks) == (0, 0)
    assert not limiter.stats.failing


# -- Redis away, hung, or back ------------------------------------------------------------------


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class StalledServer:
    """Accepts connections, reads whatever comes, and never answers."""

    def __init__(self) -> None:
        self.received = asyncio.Event()
        self.port = 0

    async def swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            self.received.set()
        writer.close()


@pytest.fixture
async def stalled() -> AsyncIterator[StalledServer]:
    stalled = StalledServer()
    server = await asyncio.start_server(stalled.swallow, "127.0.0.1", 0)
    stalled.port = server.sockets[0].getsockname()[1]
    yield stalled
    server.close()


def expect_outcome(mode: str, decision: Decision) -> None:
    if mode == "open":
        assert decision.allowed
        assert decision.retry_after == 0
    else:
        assert not decision.allowed
        assert decision.retry_after == 1.0  # closed_retry_after's default


async def three_failed_decisions(client: Redis, mode: str, bus: EventBus) -> RedisRateLimiter:
    options = RedisRateLimitOptions(
        rate=1, burst=5, namespace="meshkit-test:away", failure_mode=mode,  # type: ignore[arg-type]
        timeout=0.2, cooldown=0.0,
    )  # fmt: skip
    limiter = RedisRateLimiter(client, options, events=bus)
    try:
        async with asyncio.timeout(GENEROUS):
            for _ in range(3):
                expect_outcome(mode, await limiter.decide("k"))
    finally:
        await client.aclose()
    return limiter


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_unreachable_redis_answers_by_failure_mode(
    mode: str, bus: EventBus, recorder: EventRecorder
) -> None:
    # a default client: redis-py would retry with backoff; only the limiter's bound stops it
    client = Redis(host="127.0.0.1", port=unused_port())

    limiter = await three_failed_decisions(client, mode, bus)

    assert (limiter.stats.failures, limiter.stats.fallbacks) == (3, 3)
    assert limiter.stats.failing
    failed = recorder.of(RateLimitBackendFailed)
    assert len(failed) == 1  # once per change of state, not per request
    assert failed[0].failure_mode == mode
    assert failed[0].source == "redis_ratelimit"


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_hung_redis_never_hangs_the_caller(
    stalled: StalledServer, mode: str, bus: EventBus, recorder: EventRecorder
) -> None:
    client = Redis(host="127.0.0.1", port=stalled.port)  # no socket timeout of its own

    limiter = await three_failed_decisions(client, mode, bus)

    assert limiter.stats.failures == 3
    assert recorder.of(RateLimitBackendFailed)[0].error.startswith("TimeoutError")


async def test_local_failure_mode_enforces_the_limit_in_process(stalled: StalledServer) -> None:
    client = Redis(host="127.0.0.1", port=stalled.port)
    limiter = RedisRateLimiter(
        client,
        RedisRateLimitOptions(
            rate=0.01, burst=2, namespace="meshkit-test:local", failure_mode="local",
            timeout=0.2, cooldown=60.0,
        ),
    )  # fmt: skip
    try:
        async with asyncio.timeout(GENEROUS):
            decisions = await decide_all(limiter, "k", 3)
            other_key = await limiter.decide("other")
    finally:
        await client.aclose()

    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[2].retry_after > 0
    assert other_key.allowed
    assert limiter.stats.failures == 1  # the cooldown kept later decisions off the hung server


async def test_from_url_client_times_out_on_its_own(stalled: StalledServer) -> None:
    limiter = RedisRateLimiter.from_url(
        f"redis://127.0.0.1:{stalled.port}",
        RedisRateLimitOptions(rate=1, burst=1, failure_mode="closed", timeout=0.2),
    )
    try:
        async with asyncio.timeout(GENEROUS):
            decision = await limiter.decide("k")
    finally:
        await limiter.aclose()
    assert not decision.allowed
    assert limiter.stats.failures == 1


async def test_cost_above_burst_is_denied_without_asking_redis() -> None:
    client = Redis(host="127.0.0.1", port=unused_port())
    limiter = RedisRateLimiter(client, RedisRateLimitOptions(rate=1, burst=3))
    try:
        decision = await limiter.decide("k", 4)
    finally:
        await client.aclose()
    assert (decision.allowed, decision.retry_after) == (False, math.inf)
    assert limiter.stats.failures == 0


async def test_cooldown_keeps_decisions_off_redis_until_it_passes(clock: FakeClock) -> None:
    # no retries, so a refused connection fails at once and the fake clock's timer never matters
    client = Redis(host="127.0.0.1", port=unused_port(), retry=Retry(NoBackoff(), 0))
    limiter = RedisRateLimiter(
        client, RedisRateLimitOptions(rate=1, burst=5, cooldown=10.0), clock=clock
    )
    try:
        async with asyncio.timeout(GENEROUS):
            await limiter.decide("k")
            clock.advance(9.9)
            await limiter.decide("k")
            assert (limiter.stats.failures, limiter.stats.fallbacks) == (1, 2)
            clock.advance(0.1)
            await limiter.decide("k")
    finally:
        await client.aclose()
    assert (limiter.stats.failures, limiter.stats.fallbacks) == (2, 3)


async def test_caller_cancellation_propagates_and_is_not_a_failure(stalled: StalledServer) -> None:
    client = Redis(host="127.0.0.1", port=stalled.port)
    limiter = RedisRateLimiter(
        client, RedisRateLimitOptions(rate=1, burst=5, failure_mode="open", timeout=GENEROUS)
    )
    try:
        task = asyncio.create_task(limiter.decide("k"))
        await asyncio.wait_for(stalled.received.wait(), GENEROUS)  # the call is in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await client.aclose()
    assert limiter.stats.failures == 0
    assert limiter.stats.fallbacks == 0


async def test_many_concurrent_decisions_on_a_hung_server_all_return(
    stalled: StalledServer,
) -> None:
    client = Redis(host="127.0.0.1", port=stalled.port)
    limiter = RedisRateLimiter(
        client, RedisRateLimitOptions(rate=1, burst=5, failure_mode="closed", timeout=0.2)
    )
    try:
        async with asyncio.timeout(GENEROUS):
            decisions = await asyncio.gather(*(limiter.decide(f"k{i}") for i in range(20)))
    finally:
        await client.aclose()
    assert not any(d.allowed for d in decisions)
    assert limiter.stats.failures == 20  # all were in flight before the first one failed


# -- Redis going away mid-run and coming back -------------------------------------------------


class SwitchableProxy:
    """Forwards TCP to Redis; once stalled, swallows requests and never answers them."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.stalled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        back = asyncio.create_task(self._pump(up_reader, writer, check=False))
        self._tasks.add(back)
        back.add_done_callback(self._tasks.discard)
        try:
            await self._pump(reader, up_writer, check=True)
        finally:
            back.cancel()
            up_writer.close()
            writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, check: bool
    ) -> None:
        while data := await reader.read(65536):
            if check and self.stalled:
                continue  # requests vanish; the client waits for an answer that never comes
            writer.write(data)
            await writer.drain()


@pytest.mark.redis
async def test_outage_and_recovery_each_publish_one_event(
    redis_client: Redis, make_limiter: MakeLimiter, bus: EventBus, recorder: EventRecorder
) -> None:
    proxy = SwitchableProxy(**_address(redis_client))
    client = Redis(host="127.0.0.1", port=await proxy.start())
    limiter = make_limiter(client, events=bus, rate=0.01, burst=10, failure_mode="closed",
                           timeout=0.2, cooldown=0.0)  # fmt: skip
    try:
        async with asyncio.timeout(GENEROUS * 2):
            assert (await limiter.decide("k")).remaining == 9

            proxy.stalled = True
            during = await decide_all(limiter, "k", 3)
            failed_events = len(recorder.of(RateLimitBackendFailed))

            proxy.stalled = False
            after = await decide_all(limiter, "k", 2)
    finally:
        await client.aclose()
        await proxy.close()

    assert all(not d.allowed and d.retry_after == 1.0 for d in during)
    assert failed_events == 1
    assert [d.remaining for d in after] == [8, 7]  # the outage charged nothing in Redis
    assert len(recorder.of(RateLimitBackendRecovered)) == 1
    assert recorder.kinds() == ["RateLimitBackendFailed", "RateLimitBackendRecovered"]
    assert recorder.of(RateLimitBackendRecovered)[0].down_for >= 0
    assert (limiter.stats.failures, limiter.stats.failing) == (3, False)


# -- helpers ----------------------------------------------------------------------------------


def _address(client: Redis) -> dict[str, Any]:
    kwargs = client.connection_pool.connection_kwargs
    return {"host": kwargs.get("host", "127.0.0.1"), "port": kwargs.get("port", 6379)}


# -- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("rate", 0),
        ("rate", math.inf),
        ("burst", 0),
        ("burst", 2.5),
        ("algorithm", "leaky"),
        ("namespace", ""),
        ("failure_mode", "maybe"),
        ("timeout", 0),
        ("cooldown", -1),
        ("closed_retry_after", -0.5),
        ("local_max_keys", 0),
    ],
)
def test_invalid_options_name_the_option(option: str, value: Any) -> None:
    arguments: dict[str, Any] = {"rate": 1.0, "burst": 1, option: value}
    with pytest.raises(ConfigError) as raised:
        RedisRateLimitOptions(**arguments)
    assert raised.value.option == option
