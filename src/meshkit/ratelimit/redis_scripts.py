"""The Lua scripts behind :class:`~meshkit.ratelimit.redis.RedisRateLimiter`.

Theory of operation
-------------------
One decision is one ``EVALSHA``: the script reads the server's ``TIME``, loads the key's
state, decides, writes the new state with an expiry, and replies — atomically, because Redis
runs a script to completion before serving anyone else. Reading ``TIME`` inside the script
(allowed since Redis 7 replicates a script's effects, not the script) means every gateway node
measures refill on the same clock, however skewed the nodes' own clocks are.

Both scripts take ``KEYS[1]`` (the limit's key) and ``ARGV`` = rate (units per second),
burst (units), cost (units), and reply ``{allowed (0/1), remaining, reset_after_us,
retry_after_us}``: integers, since Redis turns Lua numbers into integer replies, so the
durations travel as whole microseconds (``retry_after`` rounded up, never too early).

State is a hash ``{ts, level}``: ``ts`` the server time of the last write in whole
microseconds (exact in a double until the year 2255) and ``level`` a small number measured
*from* ``ts``. Keeping the large timestamp and the fractional quantity apart is deliberate:
storing an absolute deadline such as GCRA's theoretical arrival time as one double would round
it to 0.25 µs on every write, and with rates whose interval is not a whole number of
microseconds that rounding drifts one way, enough to refuse the last units of a large burst.
Subtracting two whole-microsecond stamps is exact, so nothing drifts here.

* token bucket: ``level`` is the tokens left at ``ts``; they refill at ``rate`` up to
  ``burst``. A key absent (or expired) is a full bucket, so the expiry is the time to refill.
* GCRA: ``level`` is how far, in µs, the theoretical arrival time ran ahead of ``ts``; a
  request of cost ``c`` conforms when pushing it ``c`` intervals further keeps it within the
  tolerance ``burst * interval``. The key expires when the schedule catches up with the clock.

The two admit exactly the same traffic (GCRA is the token bucket seen as a schedule); both are
offered so the Redis backend matches whichever local algorithm a mesh uses for fallback.
``EPSILON`` forgives floating-point dust (a millionth of a unit) so that a refill which is
mathematically whole is never refused for being 1e-16 short.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["GCRA_SCRIPT", "SCRIPTS", "TOKEN_BUCKET_SCRIPT", "LuaScript"]

_PRELUDE = """
local EPSILON = 1e-6
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'ts', 'level')
local function store(level, expire_us)
  redis.call('HSET', KEYS[1], 'ts', now, 'level', level)
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(expire_us / 1000)))
end
"""

_TOKEN_BUCKET_BODY = """
local per_us = rate / 1000000
local tokens = burst
if state[1] then
  -- max(0, ...): after a failover to a replica whose clock is behind, never refill backwards
  local elapsed = math.max(0, now - tonumber(state[1]))
  tokens = math.min(burst, tonumber(state[2]) + elapsed * per_us)
end
if tokens + EPSILON >= cost then
  tokens = math.max(0, tokens - cost)
  local reset_us = (burst - tokens) / per_us
  store(tokens, reset_us)
  return {1, math.floor(tokens + EPSILON), math.ceil(reset_us), 0}
end
return {0, math.floor(tokens + EPSILON), math.ceil((burst - tokens) / per_us),
        math.ceil((cost - tokens) / per_us)}
"""

_GCRA_BODY = """
local interval = 1000000 / rate
local tolerance = interval * burst
local ahead = 0
if state[1] then
  -- (ts - now) is exact; adding the small 'level' afterwards keeps full precision
  ahead = math.max(0, (tonumber(state[1]) - now) + tonumber(state[2]))
end
local pushed = ahead + cost * interval
if pushed <= tolerance + EPSILON * interval then
  store(pushed, pushed)
  local remaining = math.max(0, math.floor((tolerance - pushed) / interval + EPSILON))
  return {1, remaining, math.ceil(pushed), 0}
end
local remaining = math.max(0, math.floor((tolerance - ahead) / interval + EPSILON))
return {0, remaining, math.ceil(ahead), math.ceil(pushed - tolerance)}
"""


@dataclass(frozen=True, slots=True)
class LuaScript:
    """A script's source and the SHA1 that ``EVALSHA`` names it by."""

    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> LuaScript:
        return cls(source, hashlib.sha1(source.encode()).hexdigest())


TOKEN_BUCKET_SCRIPT = LuaScript.of(_PRELUDE + _TOKEN_BUCKET_BODY)
GCRA_SCRIPT = LuaScript.of(_PRELUDE + _GCRA_BODY)

SCRIPTS: dict[str, LuaScript] = {"token_bucket": TOKEN_BUCKET_SCRIPT, "gcra": GCRA_SCRIPT}
"""The script of each algorithm name accepted by ``RedisRateLimitOptions.algorithm``."""
