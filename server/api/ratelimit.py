"""Outbound rate limiting: one GCRA schedule per API key, shared by every caller of that key.

MsgFlash allows 10 requests per second per key and answers 429 ``API_RATE_LIMIT_EXCEEDED``
beyond that. Every HTTP attempt (retries included) first calls ``acquire(key)``, which *waits*
for the key's next slot; an upstream 429 calls ``push_back(key, seconds)`` so nobody on that key
goes before the pause ends.

GCRA (generic cell rate algorithm) keeps one number per key, the theoretical arrival time (TAT).
A request granted at ``now`` must satisfy ``now >= TAT - tolerance`` and moves the TAT to
``max(TAT, now) + interval``, where ``interval = 1 / rate`` and ``tolerance = interval * (burst - 1)``.
With the default ``burst = 1`` grants are at least ``1 / rate`` apart.

Three properties the implementations share:

* **Evaluated at the actual grant time, never reclaiming lateness.** A caller is granted when it
  is really running again, and the next slot is computed from that moment. An event loop that
  wakes a caller 8 ms late (busy rendering other results) therefore delays the next caller by
  the same 8 ms instead of squeezing it in 92 ms later; a strict upstream that measures arrival
  gaps (GCRA with burst 1 at the server) would answer that squeezed request with a 429, and one
  429 pauses the key for a whole second. Measured against the strict sandbox this was the
  difference between ~90 and 0 rejections in 200 requests (bench/ratelimit.py).
* **Fair and cancellation-safe.** Callers of one key queue behind a FIFO gate (``anyio.Lock`` is
  fair); only the caller at the head sleeps towards the next slot. A caller cancelled while it
  waits leaves without touching the TAT, so nothing is ever granted earlier than the schedule
  allows; a granted caller's slot stays spent whatever happens to its request afterwards.
* **A 429 pauses everyone.** ``push_back`` records ``paused_until = now + seconds`` and moves the
  TAT to at least ``paused_until + tolerance``; the caller at the head re-checks after every sleep,
  so every pending caller is delayed too, and still spaced ``1 / rate`` apart afterwards.

API keys are secrets: they are never logged, and the Redis backend stores state under
``msgflash:rl:<first 16 hex digits of sha256(key)>``, never under the key itself.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

import anyio
import anyio.lowlevel
import httpx2

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_HEADROOM",
    "DEFAULT_MAX_PUSH_BACK",
    "REDIS_KEY_PREFIX",
    "Clock",
    "MemoryRateLimiter",
    "NoRateLimiter",
    "RateLimitedTransport",
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


DEFAULT_HEADROOM = 0.002
"""Seconds added to every interval by the server's limiters: an allowance for the variation between
our grant and the request's arrival upstream (measured 1-6 ms on a loaded loopback, bench/ratelimit.py).
A strict upstream measures arrival gaps, so without it a perfectly paced client still collects 429s,
and each one pauses the key for a whole second. At 10 req/s it costs 2% of the rate."""


def _interval(rate: float, burst: object, headroom: float = 0.0) -> float:
    # `burst` is checked as a runtime value: callers outside the type checker pass floats and bools too.
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ValueError(f"burst must be an integer >= 1, got {burst!r}")
    if not (math.isfinite(headroom) and headroom >= 0):
        raise ValueError(f"headroom must be >= 0 seconds, got {headroom!r}")
    return 1.0 / rate + headroom


def _push_back_seconds(seconds: float, cap: float) -> float | None:
    """The pause to apply, or None to ignore (zero, negative or NaN: nothing to wait for)."""
    if math.isnan(seconds) or seconds <= 0:
        return None
    return min(seconds, cap)


def _check_cap(max_push_back: float) -> float:
    if not (math.isfinite(max_push_back) and max_push_back > 0):
        raise ValueError(f"max_push_back must be a positive number of seconds, got {max_push_back!r}")
    return max_push_back


ADAPT_STEP = 0.002
"""Extra spacing one upstream 429 adds to its key (seconds), capped at ADAPT_CAP of the interval. Every
grant gives back ADAPT_DECAY of it, so it fades after a few hundred clean requests: additive increase,
slow decrease, like TCP. A 429 at a well-paced rate means our requests arrive with more jitter than the
headroom allows (a loaded machine, a far network); the key learns the spacing it needs."""
ADAPT_CAP = 0.10
ADAPT_DECAY = 0.00002


@dataclass(eq=False)
class _KeyState:
    gate: anyio.Lock = field(default_factory=lambda: anyio.Lock(fast_acquire=False))
    tat: float = -math.inf
    paused_until: float = -math.inf
    extra: float = 0.0  # learned spacing on top of the interval (see ADAPT_STEP)


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
        headroom: float = 0.0,
    ) -> None:
        self._interval = _interval(rate, burst, headroom)
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
        async with state.gate:  # FIFO: one caller at a time sleeps towards the next slot
            while True:
                now = self._clock()
                ready_at = max(state.tat - self._tolerance, state.paused_until)
                if now >= ready_at:
                    break
                logger.debug("rate limit: key %s waits %.3f s", fingerprint, ready_at - now)
                await self._sleep(ready_at - now)  # a 429 meanwhile moves ready_at: loop and re-check
            # From the real grant time, so lateness is never reclaimed (see the module docstring).
            state.tat = max(state.tat, now) + self._interval + state.extra
            state.extra = max(0.0, state.extra - ADAPT_DECAY)

    async def push_back(self, key: str, seconds: float) -> None:
        pause = _push_back_seconds(seconds, self._max_push_back)
        if pause is None:
            return
        fingerprint = key_fingerprint(key)
        state = self._state(fingerprint)
        # No await between read and write: atomic on one event loop, no need for the gate
        # (which the head waiter holds while it sleeps).
        until = self._clock() + pause
        state.paused_until = max(state.paused_until, until)
        state.extra = min(state.extra + ADAPT_STEP, self._interval * ADAPT_CAP)
        # + tolerance: the first grant after the pause is at `until`, not `until - tolerance`
        # (a 429 spends the burst allowance).
        state.tat = max(state.tat, until + self._tolerance)
        await anyio.lowlevel.checkpoint()
        logger.info("rate limit: upstream 429, key %s paused for %.3f s", fingerprint, pause)

    async def aclose(self) -> None:
        self._states.clear()


# State: a hash {tat, pause} in integer microseconds of Redis TIME. Numbers go back to Redis via
# string.format("%.0f"): Lua 5.1 would otherwise print them with 14 significant digits and
# microsecond timestamps have 16. Returns {wait_us, now_us}: wait 0 means granted (TAT moved from
# Redis's own "now", the real grant time), otherwise how long until the next try may succeed.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'extra')
local tat = tonumber(state[1]) or 0
local pause = tonumber(state[2]) or 0
local extra = tonumber(state[3]) or 0
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
if ARGV[1] == 'push' then
  local untl = now + tonumber(ARGV[4])
  if untl > pause then pause = untl end
  if untl + tolerance > tat then tat = untl + tolerance end
  extra = math.min(extra + tonumber(ARGV[5]), interval * tonumber(ARGV[6]))
else
  local ready = math.max(tat - tolerance, pause)
  if now < ready then
    return {ready - now, now}
  end
  tat = math.max(tat, now) + interval + extra
  extra = math.max(0, extra - tonumber(ARGV[7]))
end
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat), 'pause', string.format('%.0f', pause),
  'extra', string.format('%.0f', extra))
local ttl_ms = math.ceil((math.max(tat, pause) - now) / 1000) + 1000
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl_ms))
return {0, now}
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
        headroom: float = 0.0,
    ) -> None:
        interval = _interval(rate, burst, headroom)
        # Whole microseconds, rounded up: spacing never drops below 1 / rate.
        self._interval_us = math.ceil(interval * 1_000_000)
        self._tolerance_us = self._interval_us * (burst - 1)
        self._sleep = sleep
        self._max_push_back = _check_cap(max_push_back)
        self._redis = redis
        self._owns_client = owns_client
        self._script = redis.register_script(_LUA)
        self._gates: dict[str, anyio.Lock] = {}

    @staticmethod
    def redis_key(key: str) -> str:
        """Where a key's schedule lives in Redis (a fingerprint, never the key itself)."""
        return REDIS_KEY_PREFIX + key_fingerprint(key)

    async def _run(self, key: str, op: str, arg: int | None) -> int:
        args: list[int | float | str] = [
            op, self._interval_us, self._tolerance_us, "" if arg is None else arg,
            round(ADAPT_STEP * 1e6), ADAPT_CAP, round(ADAPT_DECAY * 1e6),
        ]  # fmt: skip
        # redis-py leaves AsyncScript.__call__ unannotated, and what pyright infers for it changes
        # between releases (8.2 infers an Awaitable): check the reply's shape here instead.
        result: object = await self._script(keys=[self.redis_key(key)], args=args)
        first: object = cast("Sequence[object]", result)[0] if isinstance(result, list | tuple) and result else None
        if not isinstance(first, int):
            raise TypeError(f"rate limit script answered {result!r:.80}, expected a list starting with an integer")
        return first

    async def acquire(self, key: str) -> None:
        # Try to claim a slot at Redis's "now"; if it is not yet time, sleep locally and try again.
        # The local gate keeps this process's own callers in FIFO order; across processes the
        # first to ask once the slot is due gets it.
        gate = self._gates.setdefault(key_fingerprint(key), anyio.Lock(fast_acquire=False))
        async with gate:
            while True:
                wait_us = await self._run(key, "acquire", None)
                if wait_us <= 0:
                    return
                logger.debug("rate limit: key %s waits %.3f s (shared)", key_fingerprint(key), wait_us / 1e6)
                await self._sleep(wait_us / 1_000_000)

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


class RateLimitedTransport(httpx2.AsyncBaseTransport):
    """Takes the key's slot immediately before the request goes on the wire.

    Living in the transport means every attempt (retries included) is paced by construction, and
    the time between the grant and the socket write is as short and as steady as it can be: the
    upstream measures arrival gaps, so any variation there is what a strict limit sees. A rate-limit
    429 from upstream pauses the key here too, for every caller (Retry-After when given, else 1 s);
    a monthly quota 429 does not (``retry.is_rate_limit``).
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, limiter: RateLimiter) -> None:
        self._inner = inner
        self._limiter = limiter

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        key = request.headers.get("x-api-key", "")
        await self._limiter.acquire(key)
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429:
            from .client import error_fields
            from .retry import is_rate_limit, parse_retry_after

            await response.aread()  # a small error envelope; the client reads it from memory afterwards
            code, _message, _details = error_fields(response)
            # A monthly quota 429 is not about pace: pausing the key would only delay everyone's
            # other calls (which the quota may still allow) for nothing.
            if is_rate_limit(response.status_code, code):
                await self._limiter.push_back(key, parse_retry_after(response.headers.get("retry-after")) or 1.0)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def build_rate_limiter(rate: float, redis_url: str | None) -> RateLimiter:
    """The limiter the settings ask for: none (rate 0), Redis-backed (a URL), else in memory."""
    if rate == 0:
        return NoRateLimiter()
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate limit must be 0 (off) or a positive number of requests per second, got {rate!r}")
    if redis_url:
        from redis.asyncio import from_url  # deferred: only the Redis deployment pays for the import

        return RedisRateLimiter(from_url(redis_url), rate, owns_client=True, headroom=DEFAULT_HEADROOM)
    return MemoryRateLimiter(rate, headroom=DEFAULT_HEADROOM)
