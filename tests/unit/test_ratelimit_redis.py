"""RedisRateLimiter against a real redis-server, in real time (each test well under 2 s).

Two limiter instances with their own Redis connections stand in for two server processes (or
replicas) that share one API key.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
import uuid
from collections.abc import AsyncIterator

import anyio
import pytest
import redis.exceptions
from msgflash_mcp.server.api.ratelimit import RedisRateLimiter, build_rate_limiter, key_fingerprint
from redis.asyncio import Redis

from tests.redis_server import redis_url

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.slow]

__all__ = ["redis_url"]  # the fixture, re-exported so pytest finds it in this module

RATE = 20.0
INTERVAL = 1 / RATE
# Each process sleeps locally after the script's reply, so reply latency and event-loop wake-up
# jitter shift grants by a few ms (measured here: gaps of 44-48 ms at worst). Two processes that did
# not share the schedule would show gaps near 0 ms, far below this bound.
TOLERANCE = 0.015


@pytest.fixture
def api_key() -> str:
    return "msgf_live_" + uuid.uuid4().hex + uuid.uuid4().hex  # fresh per test: no shared schedule


@pytest.fixture
async def two_processes(redis_url: str) -> AsyncIterator[tuple[RedisRateLimiter, RedisRateLimiter]]:
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    try:
        yield RedisRateLimiter(clients[0], RATE), RedisRateLimiter(clients[1], RATE)
    finally:
        for client in clients:
            await client.aclose()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    async with Redis.from_url(redis_url) as c:
        yield c


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(sorted(times))]


async def test_two_processes_share_one_schedule(
    two_processes: tuple[RedisRateLimiter, RedisRateLimiter], api_key: str
) -> None:
    grants: list[float] = []

    async def call(limiter: RedisRateLimiter) -> None:
        await limiter.acquire(api_key)
        grants.append(time.monotonic())

    start = time.monotonic()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                for limiter in two_processes:
                    tg.start_soon(call, limiter)
    assert len(grants) == 20
    # Both bounds survive a busy machine: a late wake-up can only stretch the span, and it squeezes
    # at most the odd gap (the minimum is not robust), while unshared schedules would halve both.
    assert max(grants) - start >= 19 * INTERVAL - TOLERANCE
    assert statistics.median(gaps(grants)) >= INTERVAL - TOLERANCE


async def test_push_back_is_seen_by_the_other_process(
    two_processes: tuple[RedisRateLimiter, RedisRateLimiter], api_key: str
) -> None:
    saw_429, waiting = two_processes
    grants: list[float] = []
    first_granted = anyio.Event()
    pushed = math.inf

    async def call() -> None:
        await waiting.acquire(api_key)
        grants.append(time.monotonic())
        first_granted.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(4):  # slots now, +50 ms, +100 ms, +150 ms
                tg.start_soon(call)
            await first_granted.wait()
            pushed = time.monotonic()
            await saw_429.push_back(api_key, 0.4)  # the other process got a 429 with Retry-After
        assert len(grants) == 4
        assert min(sorted(grants)[1:]) >= pushed + 0.4 - TOLERANCE  # every pending caller waited
        assert max(grants) >= pushed + 0.4 + 2 * INTERVAL - TOLERANCE  # and they stayed spaced after it

        before = time.monotonic()
        await saw_429.push_back(api_key, 0.3)
        await waiting.acquire(api_key)  # a newcomer in the other process waits too
        assert time.monotonic() - before >= 0.3 - TOLERANCE


async def test_state_is_stored_under_a_fingerprint_and_expires(client: Redis, api_key: str) -> None:
    limiter = RedisRateLimiter(client, RATE)
    with anyio.fail_after(5):
        await limiter.acquire(api_key)
        await limiter.push_back(api_key, 0.5)
        stored = [k.decode() async for k in client.scan_iter(match="msgflash:rl:*")]
        assert RedisRateLimiter.redis_key(api_key) == "msgflash:rl:" + key_fingerprint(api_key)
        assert RedisRateLimiter.redis_key(api_key) in stored
        assert not any(api_key in k for k in stored)
        ttl_ms = await client.pttl(RedisRateLimiter.redis_key(api_key))
        assert 0 < ttl_ms <= 1_600  # pause (0.5 s) + one second of slack: idle keys disappear
        fields = await client.hgetall(RedisRateLimiter.redis_key(api_key))
        assert sorted(fields) == [b"extra", b"pause", b"tat"]  # three numbers, nothing else (no key)


async def test_script_cache_flush_falls_back_to_loading_the_script(client: Redis, api_key: str) -> None:
    limiter = RedisRateLimiter(client, RATE)
    with anyio.fail_after(5):
        await limiter.acquire(api_key)
        await client.script_flush()  # e.g. a Redis restart or failover: EVALSHA says NOSCRIPT
        start = time.monotonic()
        await limiter.acquire(api_key)
        assert time.monotonic() - start >= INTERVAL - TOLERANCE


async def test_keys_have_independent_schedules(client: Redis, api_key: str) -> None:
    limiter = RedisRateLimiter(client, 2.0)  # 500 ms interval: a shared schedule would show
    with anyio.fail_after(5):
        start = time.monotonic()
        for i in range(5):
            await limiter.acquire(f"{api_key}-{i}")
        assert time.monotonic() - start < 0.25


async def test_unreachable_redis_fails_the_call_instead_of_going_unpaced(api_key: str) -> None:
    limiter = build_rate_limiter(10, "redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        with anyio.fail_after(5), pytest.raises(redis.exceptions.ConnectionError):
            await limiter.acquire(api_key)
    finally:
        await limiter.aclose()
