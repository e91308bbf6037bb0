"""MemoryRateLimiter on virtual time: pacing, burst, 429 push-back, cancellation, per-key, monotonic.

No test sleeps in real time. ``FakeClock`` (tests/fake_time.py) is the virtual clock: its ``sleep`` parks
the caller until the test advances the clock past the caller's deadline, and ``settle`` lets
every runnable task run until all of them wait, so a grant time read from ``monotonic()`` right after
``acquire`` returns is exactly the virtual time of the grant.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgflash_mcp.server.api.ratelimit import (
    ADAPT_DECAY,
    ADAPT_STEP,
    MemoryRateLimiter,
    NoRateLimiter,
    RateLimitedTransport,
    RateLimiter,
    RedisRateLimiter,
    build_rate_limiter,
    key_fingerprint,
)

from tests.fake_time import FakeClock

pytestmark = pytest.mark.anyio

KEY = "msgf_live_" + "5a" * 32
TEAM_KEY = "msgf_team_" + "7e" * 32
EPS = 1e-9


def spacings(times: list[float]) -> Iterator[float]:
    ordered = sorted(times)
    return (b - a for a, b in itertools.pairwise(ordered))


async def _acquire_and_record(limiter: RateLimiter, key: str, ft: FakeClock, grants: list[float]) -> None:
    await limiter.acquire(key)
    grants.append(ft.monotonic())


async def alone(ft: FakeClock, limiter: RateLimiter, key: str = KEY) -> None:
    """One acquire with nothing else going on, virtual time driven until it returns."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(limiter.acquire, key)
        await ft.run()


@pytest.fixture
def ft() -> FakeClock:
    return FakeClock()


def memory(ft: FakeClock, rate: float = 10.0, burst: int = 1, **kw: float) -> MemoryRateLimiter:
    return MemoryRateLimiter(rate, burst, clock=ft.monotonic, sleep=ft.sleep, **kw)


# --- pacing and burst -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "rate", "burst"), [(1, 10.0, 1), (20, 10.0, 1), (50, 10.0, 1), (20, 4.0, 3), (12, 10.0, 5)]
)
async def test_concurrent_acquires_take_n_minus_burst_over_rate(ft: FakeClock, n: int, rate: float, burst: int) -> None:
    limiter = memory(ft, rate, burst)
    start = ft.monotonic()
    grants: list[float] = []
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(_acquire_and_record, limiter, KEY, ft, grants)
        await ft.run()
    assert len(grants) == n
    assert max(grants) - start == pytest.approx(max(n - burst, 0) / rate)
    # the first `burst` go at once, every later one exactly 1/rate after the previous
    assert sorted(grants)[:burst] == pytest.approx([start] * min(burst, n))
    assert all(gap == pytest.approx(1 / rate) for gap in list(spacings(grants))[burst - 1 :])


async def test_burst_one_is_strict_spacing(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0)
    await alone(ft, limiter)
    await alone(ft, limiter)
    assert ft.waits == [pytest.approx(0.1)]  # the second call had to wait a full interval


async def test_sequential_callers_do_not_wait_when_below_rate(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0)
    for _ in range(5):
        await limiter.acquire(KEY)
        await ft.run_for(0.2)
    assert ft.waits == []


async def test_idle_time_refills_burst_but_never_beyond_it(ft: FakeClock) -> None:
    limiter = memory(ft, rate=8.0, burst=3)
    for _round in range(2):  # the second round starts after a long idle period
        grants: list[float] = []
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(_acquire_and_record, limiter, KEY, ft, grants)
            await ft.run()
        t0 = min(grants)
        assert [g - t0 for g in sorted(grants)] == [0.0, 0.0, 0.0, 0.125, 0.25, 0.375]
        await ft.run_for(3600)  # idling must not bank more than `burst` slots


async def test_callers_are_served_in_arrival_order(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0)
    order: list[int] = []

    async def caller(i: int) -> None:
        await limiter.acquire(KEY)
        order.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(caller, i)
            await ft.settle()  # task i reserves before task i + 1 arrives
        await ft.run()
    assert order == list(range(10))


# --- 429 push-back ---------------------------------------------------------------------------


async def test_push_back_delays_every_pending_caller(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0)
    start = ft.monotonic()
    grants: list[float] = []
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(_acquire_and_record, limiter, KEY, ft, grants)
        await ft.run_for(0.15)  # slots 0.0 and 0.1 granted; 0.2, 0.3, 0.4 still waiting
        assert len(grants) == 2
        await limiter.push_back(KEY, 2.0)  # one caller saw a 429 with Retry-After: 2
        tg.start_soon(_acquire_and_record, limiter, KEY, ft, grants)  # and a newcomer
        await ft.run()
    late = sorted(grants)[2:]
    assert len(late) == 4
    assert min(late) == pytest.approx(start + 0.15 + 2.0)
    assert all(gap >= 0.1 - EPS for gap in spacings(grants))


async def test_push_back_covers_only_slots_inside_the_pause(ft: FakeClock) -> None:
    limiter = memory(ft, rate=8.0)  # 1/8 s is exact in binary: slot arithmetic has no rounding
    start = ft.monotonic()
    grants: list[float] = []
    async with anyio.create_task_group() as tg:
        for _ in range(30):  # slots start + k/8, k = 0 ... 29; TAT ends at start + 3.75
            tg.start_soon(_acquire_and_record, limiter, KEY, ft, grants)
        await ft.settle()
        await limiter.push_back(KEY, 1.0)  # covers the slots k = 1 ... 7
        await ft.run()
    assert len(grants) == 30
    assert [g for g in grants if start < g < start + 1.0] == []
    assert all(gap >= 0.125 for gap in spacings(grants))
    after = sorted(grants)[1:]
    assert after[0] == pytest.approx(start + 1.0)  # the head of the queue goes when the pause ends
    gaps = list(spacings(after))
    assert gaps[0] == pytest.approx(0.125 + ADAPT_STEP)  # the 429 widened this key's spacing...
    assert gaps[-1] < gaps[0]  # ...and every grant gives a little of it back
    assert gaps[-1] == pytest.approx(0.125 + ADAPT_STEP - (len(gaps) - 1) * ADAPT_DECAY)


async def test_push_back_with_burst_spends_the_burst(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0, burst=5)
    await limiter.push_back(KEY, 1.0)
    start = ft.monotonic()
    grants: list[float] = []
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(_acquire_and_record, limiter, KEY, ft, grants)
        await ft.run()
    assert min(grants) == pytest.approx(start + 1.0)  # nobody before the pause ends, despite the burst


@pytest.mark.parametrize(
    ("code", "pause"),
    [
        ("API_RATE_LIMIT_EXCEEDED", 1.0),  # REFERENCE §4.1: too fast, so the key waits
        ("MONTHLY_API_REQUEST_QUOTA_EXCEEDED", 0.1),  # §4.2: a quota; waiting cannot help, pace as usual
        ("MONTHLY_OUTBOUND_QUOTA_EXCEEDED", 0.1),
    ],
)
async def test_only_a_rate_limit_429_pauses_the_key(ft: FakeClock, sandbox_app: Any, code: str, pause: float) -> None:
    from msgflash_mcp.sandbox.faults import FaultRule
    from msgflash_mcp.sandbox.keys import PERSONAL_KEY

    path = "/api/v1/instances"
    sandbox_app.state.sandbox.faults.add([FaultRule(action="status", method="GET", path=path, status=429, code=code)])
    limiter = memory(ft, rate=10.0)
    transport = RateLimitedTransport(httpx2.ASGITransport(app=sandbox_app), limiter)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.get(path, headers={"x-api-key": PERSONAL_KEY})
    assert response.status_code == 429 and response.json()["error"]["code"] == code  # the body is still readable
    before = ft.monotonic()
    await alone(ft, limiter)
    assert ft.monotonic() - before == pytest.approx(pause)


async def test_push_back_never_moves_the_schedule_earlier(ft: FakeClock) -> None:
    limiter = memory(ft, rate=1.0)
    await alone(ft, limiter)
    await alone(ft, limiter)  # waits 1 s
    await limiter.push_back(KEY, 0.1)  # shorter than what is already scheduled: no effect
    await limiter.push_back(KEY, -5)
    await limiter.push_back(KEY, math.nan)
    await limiter.push_back(KEY, 0)
    ft.waits.clear()
    before = ft.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(limiter.acquire, KEY)
        await ft.run()
    assert ft.monotonic() - before == pytest.approx(1.0)


async def test_push_back_is_capped(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0, max_push_back=60.0)
    await limiter.push_back(KEY, 86_400)  # a bogus Retry-After must not freeze the key for a day
    await limiter.push_back(KEY, math.inf)
    before = ft.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(limiter.acquire, KEY)
        await ft.run()
    assert ft.monotonic() - before == pytest.approx(60.0)


async def test_push_back_on_one_key_leaves_other_keys_alone(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0)
    await limiter.push_back(KEY, 5.0)
    await limiter.acquire(TEAM_KEY)
    assert ft.waits == []


# --- cancellation ----------------------------------------------------------------------------


async def test_cancelled_waiters_neither_deadlock_nor_let_later_calls_exceed_the_rate(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0)
    grants: list[float] = []
    async with anyio.create_task_group() as tg:
        async with anyio.create_task_group() as doomed:
            for _ in range(10):
                doomed.start_soon(_acquire_and_record, limiter, KEY, ft, grants)
            await ft.run_for(0.25)  # three granted (0.0, 0.1, 0.2), seven waiting
            doomed.cancel_scope.cancel()
        assert len(grants) == 3
        for _ in range(5):  # later callers, some arriving while the cancelled slots would have run
            tg.start_soon(_acquire_and_record, limiter, KEY, ft, grants)
        await ft.run()
    assert len(grants) == 8
    assert all(gap >= 0.1 - EPS for gap in spacings(grants))
    # cancelled waiters never took a slot (nothing was sent for them): the next caller goes at the
    # first slot after the last real grant, no earlier
    assert min(sorted(grants)[3:]) == pytest.approx(1000.0 + 0.3)


async def test_cancellation_with_fail_after_while_waiting(ft: FakeClock) -> None:
    limiter = MemoryRateLimiter(10.0, clock=ft.monotonic, sleep=anyio.sleep)  # real sleep: fail_after fires
    await limiter.acquire(KEY)
    await limiter.push_back(KEY, 30.0)
    with anyio.move_on_after(0.01) as scope:
        await limiter.acquire(KEY)
    assert scope.cancelled_caught
    # the lock is free and the state consistent: another key and the same key still work
    await limiter.acquire(TEAM_KEY)
    ft.advance(31.0)
    with anyio.fail_after(1):
        await limiter.acquire(KEY)


# --- per key, monotonic, secrets --------------------------------------------------------------


async def test_keys_have_independent_schedules(ft: FakeClock) -> None:
    limiter = memory(ft, rate=10.0)
    grants: dict[str, list[float]] = {KEY: [], TEAM_KEY: []}
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            for key in (KEY, TEAM_KEY):
                tg.start_soon(_acquire_and_record, limiter, key, ft, grants[key])
        await ft.run()
    assert sorted(grants[KEY]) == pytest.approx(sorted(grants[TEAM_KEY]))
    assert max(grants[KEY]) - min(grants[KEY]) == pytest.approx(0.4)


async def test_pacing_uses_the_monotonic_clock_not_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    jumps = itertools.cycle([1e9, 0.0, -3600.0, 5e9])
    monkeypatch.setattr(time, "time", lambda: next(jumps))  # the wall clock jumps around
    limiter = MemoryRateLimiter(200.0)  # default clock and sleep: 5 ms apart, 15 ms in all (bounded)
    grants: list[float] = []
    with anyio.fail_after(5):
        for _ in range(4):
            await limiter.acquire(KEY)
            grants.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert all(gap >= 0.005 - 1e-4 for gap in gaps), gaps  # the jumps neither stall nor rush pacing
    assert grants[-1] - grants[0] < 1.0


async def test_keys_never_reach_logs_or_state(ft: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="msgflash_mcp")
    limiter = memory(ft, rate=10.0)
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(limiter.acquire, KEY)
        await limiter.push_back(KEY, 1.0)
        await ft.run()
    assert caplog.records, "expected the limiter to log waits and the pause"
    assert KEY not in caplog.text
    assert key_fingerprint(KEY) in caplog.text
    assert KEY not in repr(vars(limiter))
    assert RedisRateLimiter.redis_key(KEY) == "msgflash:rl:" + key_fingerprint(KEY)
    assert len(key_fingerprint(KEY)) == 16
    assert key_fingerprint(KEY) != key_fingerprint(TEAM_KEY)


# --- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (math.nan, 1), (math.inf, 1), (10, 0), (10, 1.5)])
def test_invalid_settings_are_rejected(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        MemoryRateLimiter(rate, burst)


async def test_build_rate_limiter_picks_the_backend() -> None:
    assert isinstance(build_rate_limiter(0, None), NoRateLimiter)
    assert isinstance(build_rate_limiter(0, "redis://127.0.0.1:1/0"), NoRateLimiter)
    assert isinstance(build_rate_limiter(10, None), MemoryRateLimiter)
    shared = build_rate_limiter(10, "redis://127.0.0.1:1/0")  # connects lazily: nothing listens there
    assert isinstance(shared, RedisRateLimiter)
    await shared.aclose()
    with pytest.raises(ValueError, match="rate limit"):
        build_rate_limiter(-1, None)


async def test_no_rate_limiter_never_waits() -> None:
    limiter = NoRateLimiter()
    with anyio.fail_after(1):
        for _ in range(1000):
            await limiter.acquire(KEY)
        await limiter.push_back(KEY, 60)
        await limiter.acquire(KEY)
    await limiter.aclose()


# --- property: any arrival pattern, grants spaced >= 1/rate ------------------------------------

arrivals = st.lists(st.floats(min_value=0.0, max_value=3.0, allow_nan=False), min_size=1, max_size=25)
push_backs = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=3.0), st.floats(min_value=0.0, max_value=1.5)), max_size=3
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrival_times=arrivals,
    rate=st.sampled_from([1.0, 3.0, 10.0, 25.0]),
    pauses=push_backs,
    cancel_after=st.lists(st.one_of(st.none(), st.floats(min_value=0.0, max_value=2.0)), max_size=25),
)
async def test_property_grants_are_spaced_by_the_interval(
    arrival_times: list[float], rate: float, pauses: list[tuple[float, float]], cancel_after: list[float | None]
) -> None:
    """Any arrivals, 429 pauses and cancellations: grants >= 1/rate apart, none early, none in a pause."""
    ft = FakeClock()
    limiter = memory(ft, rate=rate)
    start = ft.monotonic()
    grants: list[tuple[float, float]] = []  # (arrival, grant)
    pause_windows: list[tuple[float, float]] = []

    async def cancel_at(scope: anyio.CancelScope, at: float) -> None:
        await ft.sleep(at)
        scope.cancel()

    async def arrive(at: float, give_up_after: float | None, tg: anyio.abc.TaskGroup) -> None:
        await ft.sleep(at)
        with anyio.CancelScope() as scope:
            if give_up_after is not None:
                tg.start_soon(cancel_at, scope, give_up_after)
            await limiter.acquire(KEY)
            grants.append((start + at, ft.monotonic()))

    async def pause(at: float, seconds: float) -> None:
        await ft.sleep(at)
        pause_windows.append((ft.monotonic(), ft.monotonic() + seconds))
        await limiter.push_back(KEY, seconds)

    async with anyio.create_task_group() as tg:
        for i, at in enumerate(arrival_times):
            tg.start_soon(arrive, at, cancel_after[i] if i < len(cancel_after) else None, tg)
        for at, seconds in pauses:
            tg.start_soon(pause, at, seconds)
        await ft.run()

    granted = [g for _, g in grants]
    assert all(gap >= 1 / rate - EPS for gap in spacings(granted))
    assert all(g >= a - EPS for a, g in grants)  # nobody is granted before it asked
    for begin, end in pause_windows:  # nobody goes inside a pause once it has begun
        assert not any(begin < g < end - EPS for g in granted)
