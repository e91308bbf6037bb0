"""The tests' one clock (tests/fake_time.py): wall and monotonic time move together, and only when moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest
from msgflash_mcp.server.clock import Clock

from tests.fake_time import FakeClock

pytestmark = pytest.mark.anyio

START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_wall_and_monotonic_time_move_together_and_only_when_moved() -> None:
    clock = FakeClock(START)
    assert isinstance(clock, Clock)  # what the runtime holds
    mono = clock.monotonic()
    assert (clock.now(), clock.timestamp()) == (START, START.timestamp())
    clock.advance(90.5)
    assert clock.now() == START + timedelta(seconds=90.5)
    assert clock.timestamp() == START.timestamp() + 90.5
    assert clock.monotonic() == mono + 90.5


async def test_a_sleep_parks_until_the_test_moves_time_past_it() -> None:
    clock = FakeClock(START)
    woke: list[datetime] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.now())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sleeper, 10)
            tg.start_soon(sleeper, 3)
            await clock.run_for(2)
            assert woke == []  # nobody's time has come
            await clock.run_for(10)  # each wakes at its own deadline, in order
    assert woke == [START + timedelta(seconds=3), START + timedelta(seconds=10)]
    assert clock.waits == [10, 3] and clock.now() == START + timedelta(seconds=12)


async def test_with_sleep_moves_time_a_sleep_moves_the_clock_instead() -> None:
    clock = FakeClock(START, sleep_moves_time=True)
    with anyio.fail_after(5):
        await clock.sleep(2.0)
        await clock.sleep(0)
    assert clock.now() == START + timedelta(seconds=2) and clock.waits == [2.0, 0]
