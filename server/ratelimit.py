"""Outbound rate limiting: one GCRA schedule per API key, shared by every caller of that key.

MsgFlash allows 10 requests per second per key and answers 429 ``API_RATE_LIMIT_EXCEEDED``
beyond that. Every HTTP attempt (retries included) first calls ``acquire(key)``, which *waits*
for the key's next slot; an upstream 429 calls ``push_back(key, seconds)`` so nobody on that key
goes before the pause ends.

GCRA (generic cell rate algorithm) keeps one number per key, the theoretical arrival time (TAT).
A request arriving at ``now`` is granted at ``max(now, max(TAT, now) - tolerance)`` and moves the
TAT to ``max(TAT, now) + interval``, where ``interval = 1 / rate`` and
``tolerance = interval * (burst - 1)``. With the default ``burst = 1`` grants are strictly
``1 / rate`` apart, so even a strict upstream never sees two requests closer than that.

Three properties the implementations share:

* **Reserve, then sleep.** The slot is reserved (TAT advanced) atomically before the caller
  sleeps, so concurrent callers are queued in arrival order and never race for the same slot.
* **Cancellation is safe.** A caller cancelled while it waits leaves its reserved slot spent: the
  TAT never moves backwards, so nobody is ever granted a slot earlier than the schedule allows;
  the only cost is that one slot goes unused, i.e. the key runs slightly *below* its rate for one
  interval. Handing the slot back would be the unsafe option: another caller would have to be
  moved into the hole, and a caller that was cancelled after its request was sent (the wait and
  the send are separate steps) would make the schedule overlap the request it already made.
* **A 429 pauses everyone.** ``push_back`` records ``paused_until = now + seconds`` and moves the
  TAT to at least ``paused_until + tolerance``, so new callers wait; callers already sleeping
  towards a slot inside the pause notice it when they wake and queue again (their old slot stays
  spent), so every pending caller is delayed too, and still spaced ``1 / rate`` apart afterwards.

API keys are secrets: they are never logged, and the Redis backend stores state under
``msgflash:rl:<first 16 hex digits of sha256(key)>``, never under the key itself.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import anyio
import anyio.lowlevel

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_MAX_PUSH_BACK",
    "REDIS_KEY_PREFIX",
    "Clock",
    "MemoryRateLimiter",
    "NoRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "Sleep",
    "build_rate_limiter",
    "key_fingerprint",
]

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "msgflash:rl:"

DEFAULT_MAX_PUSH_BACK = 60.0
"""Longest pause one 429 may impose on a key. A larger or nonsensical Retry-After must not freeze
the key for hours; the retry policy fails such calls fast with a readable error instead."""


class Clock(Protocol):
    """Monotonic seconds (``time.monotonic`` by default; a fake in tests)."""

    def __call__(self) -> float: ...


Sleep = Callable[[float], Awaitable[None]]


class RateLimiter(Protocol):
    """What the API client needs from a limiter. One instance serves every key."""

    async def acquire(self, key: str) -> None:
        """Wait for this key's next slot. Every HTTP attempt calls it, retries included."""
        ...

    async def push_back(self, key: str, seconds: float) -> None:
        """An upstream 429: nobody on this key goes before ``now + seconds``."""
        ...

    async def aclose(self) -> None:
        """Release what the limiter holds (the Redis connection pool, if it owns one)."""
        ...


def key_fingerprint(key: str) -> str:
    """A stable, non-reversible id for an API key: safe in logs and as a storage key."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _interval(rate: float, burst: int) -> float:
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ValueError(f"burst must be an integer >= 1, got {burst!r}")
    return 1.0 / rate


def _push_back_seconds(seconds: float, cap: float) -> float | None:
    """The pause to apply, or None to ignore (zero, negative or NaN: nothing to wait for)."""
    if math.isnan(seconds) or seconds <= 0:
        return None
    return min(seconds, cap)


def _check_cap(max_push_back: float) -> float:
    if not (math.isfinite(max_push_back) and max_push_back > 0):
        raise ValueError(f"max_push_back must be a positive number of seconds, got {max_push_back!r}")
    return max_push_back


@dataclass(eq=False)
class _KeyState:
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    tat: float = -math.inf
    paused_until: float = -math.inf


class MemoryRateLimiter:
    """GCRA per key in this process: the default backend (stdio, a single HTTP worker).

    Use it from one event loop; state is guarded by one ``anyio.Lock`` per key, so it works on
    asyncio and trio alike. Per-key state is a few floats and lives as long as the limiter (the
    set of keys is the configured workspaces, not user input).
    """

    def __init__(
        self,
        rate: float = 10.0,
        burst: int = 1,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        max_push_back: float = DEFAULT_MAX_PUSH_BACK,
    ) -> None:
        self._interval = _interval(rate, burst)
        self._tolerance = self._interval * (burst - 1)
        self._clock = clock
        self._sleep = sleep
        self._max_push_back = _check_cap(max_push_back)
        self._states: dict[str, _KeyState] = {}

    def _state(self, fingerprint: str) -> _KeyState:
        # Indexed by fingerprint so a debugger or repr of this dict never shows a key.
        state = self._states.get(fingerprint)
        if state is None:
            state = self._states[fingerprint] = _KeyState()
        return state

    async def acquire(self, key: str) -> None:
        fingerprint = key_fingerprint(key)
        state = self._state(fingerprint)
        while True:
            async with state.lock:
                # No await between reading and writing the TAT: the reservation is atomic even
                # if this task is cancelled right after (the slot then simply stays spent).
                now = self._clock()
                base = max(state.tat, now)
                slot = max(now, base - self._tolerance)
                state.tat = base + self._interval
            wait = slot - now
            if wait <= 0:
                return
            logger.debug("rate limit: key %s waits %.3f s", fingerprint, wait)
            await self._sleep(wait)
            if state.paused_until <= slot:
                return
            # A 429 arrived while we slept and its pause covers our slot: queue again.

    async def push_back(self, key: str, seconds: float) -> None:
        pause = _push_back_seconds(seconds, self._max_push_back)
        if pause is None:
            return
        fingerprint = key_fingerprint(key)
        state = self._state(fingerprint)
        async with state.lock:
            until = self._clock() + pause
            state.paused_until = max(state.paused_until, until)
            # + tolerance: the first grant after the pause is at `until`, not `until - tolerance`
            # (a 429 spends the burst allowance).
            state.tat = max(state.tat, until + self._tolerance)
        logger.info("rate limit: upstream 429, key %s paused for %.3f s", fingerprint, pause)

    async def aclose(self) -> None:
        self._states.clear()


# State: a hash {tat, pause} in integer microseconds of Redis TIME. Numbers go back to Redis via
# string.format("%.0f"): Lua 5.1 would otherwise print them with 14 significant digits and
# microsecond timestamps have 16. Returns {slot_us, now_us, reserved (1 new slot | 0 kept)}.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'pause')
local tat = tonumber(state[1]) or 0
local pause = tonumber(state[2]) or 0
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local slot = 0
local reserved = 0
if ARGV[1] == 'push' then
  local untl = now + tonumber(ARGV[4])
  if untl > pause then pause = untl end
  if untl + tolerance > tat then tat = untl + tolerance end
else
  local prev = tonumber(ARGV[4])
  if prev and pause <= prev then
    return {prev, now, 0}
  end
  local base = math.max(tat, now)
  slot = math.max(now, base - tolerance)
  tat = base + interval
  reserved = 1
end
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat), 'pause', string.format('%.0f', pause))
local ttl_ms = math.ceil((math.max(tat, pause) - now) / 1000) + 1000
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl_ms))
return {slot, now, reserved}
"""


class RedisRateLimiter:
    """The same GCRA, kept in Redis so every process and replica using one key shares it.

    Each step is one atomic Lua script (EVALSHA, falling back to loading the script when the
    server does not know it) that reads the clock with Redis ``TIME``: processes on one host or
    many agree on "now" even if their own clocks differ; they only sleep locally for the relative
    wait. Network latency after the reservation can only delay a send, but jitter between two
    processes' latencies can bring their requests closer than ``1 / rate`` at the upstream; that
    is one reason to configure the rate slightly under the documented quota.

    Idle keys expire (one second after their schedule and pause are in the past). Redis errors
    propagate from ``acquire``/``push_back``: without the shared schedule we cannot promise the
    rate, so the call fails rather than going out unpaced. Needs Redis >= 5 (scripts that call
    ``TIME`` before writing) and the asyncio backend (``redis.asyncio``).
    """

    def __init__(
        self,
        redis: Redis,
        rate: float = 10.0,
        burst: int = 1,
        *,
        sleep: Sleep = anyio.sleep,
        max_push_back: float = DEFAULT_MAX_PUSH_BACK,
        owns_client: bool = False,
    ) -> None:
        interval = _interval(rate, burst)
        # Whole microseconds, rounded up: spacing never drops below 1 / rate.
        self._interval_us = math.ceil(interval * 1_000_000)
        self._tolerance_us = self._interval_us * (burst - 1)
        self._sleep = sleep
        self._max_push_back = _check_cap(max_push_back)
        self._redis = redis
        self._owns_client = owns_client
        self._script = redis.register_script(_LUA)

    @staticmethod
    def redis_key(key: str) -> str:
        """Where a key's schedule lives in Redis (a fingerprint, never the key itself)."""
        return REDIS_KEY_PREFIX + key_fingerprint(key)

    async def _run(self, key: str, op: str, arg: int | None) -> tuple[int, int, bool]:
        args = [op, self._interval_us, self._tolerance_us, "" if arg is None else arg]
        result = await self._script(keys=[self.redis_key(key)], args=args)
        slot, now, reserved = (int(v) for v in result)
        return slot, now, bool(reserved)

    async def acquire(self, key: str) -> None:
        prev: int | None = None
        while True:
            slot, now, reserved = await self._run(key, "acquire", prev)
            if not reserved:
                return  # our slot is still valid after the sleep
            wait = (slot - now) / 1_000_000
            if wait <= 0:
                return
            logger.debug("rate limit: key %s waits %.3f s (shared)", key_fingerprint(key), wait)
            await self._sleep(wait)
            prev = slot  # next round trip checks that no 429 pause now covers this slot

    async def push_back(self, key: str, seconds: float) -> None:
        pause = _push_back_seconds(seconds, self._max_push_back)
        if pause is None:
            return
        await self._run(key, "push", math.ceil(pause * 1_000_000))
        logger.info("rate limit: upstream 429, key %s paused for %.3f s (shared)", key_fingerprint(key), pause)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


class NoRateLimiter:
    """No pacing at all: the naive baseline for benchmarks, and ``MSGFLASH_RATE_LIMIT=0``."""

    async def acquire(self, key: str) -> None:
        await anyio.lowlevel.checkpoint()

    async def push_back(self, key: str, seconds: float) -> None:
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        return None


def build_rate_limiter(rate: float, redis_url: str | None) -> RateLimiter:
    """The limiter the settings ask for: none (rate 0), Redis-backed (a URL), else in memory."""
    if rate == 0:
        return NoRateLimiter()
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate limit must be 0 (off) or a positive number of requests per second, got {rate!r}")
    if redis_url:
        from redis.asyncio import Redis  # deferred: only the Redis deployment pays for the import

        return RedisRateLimiter(Redis.from_url(redis_url), rate, owns_client=True)
    return MemoryRateLimiter(rate)
