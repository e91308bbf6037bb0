"""The tests' one clock: `FakeClock`, server/clock.py's `Clock` on virtual time.

Wall time (`now`, `timestamp`), monotonic time and `sleep` share one timeline that moves only when the
test moves it. Whatever else keeps time in a test takes its bound methods, so every side agrees:

- the server: `Runtime.create(..., clock=clock)` or `runtime.clock = clock`;
- the sandbox: `SandboxConfig(now=clock.now, monotonic=clock.monotonic)`;
- the guard and its token store: `Guard(guard_policy(settings), store, clock=clock.timestamp)`.

Two ways to let time pass:

- `advance(seconds)`: the test jumps forward (sleepers whose time has come are woken);
- `await run_for(seconds)` / `run_until(monotonic)` / `run()`: step by step, waking each sleeper at its
  own deadline and letting every task run (`settle`) before the next, so a time read right after an
  awaited call returns is exactly the virtual time it happened at (the limiter's tests).

With `sleep_moves_time=True` a sleep moves the clock itself instead of parking: a server following a job
or pausing before a retry on the sandbox's time neither waits for real nor needs a test to drive it.
`waits` records every sleep asked for.

`settle` inspects asyncio tasks: tests using it rely on tests/conftest.py's anyio_backend = "asyncio".
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta

import anyio
import anyio.lowlevel
from msgflash_mcp.server.clock import Clock

START = datetime(2026, 4, 10, 12, 0, 0, tzinfo=UTC)  # the sandbox tests' day (their schedules name it)
MONOTONIC_START = 1000.0


def _blocked(task: asyncio.Task[object]) -> bool:
    waiter = getattr(task, "_fut_waiter", None)  # what anyio.wait_all_tasks_blocked checks, minus its 0.1 s naps
    return waiter is not None and not waiter.done()


class FakeClock(Clock):
    """Virtual wall and monotonic time, and a sleep on them. The test drives time forward."""

    def __init__(self, start: datetime = START, *, sleep_moves_time: bool = False) -> None:
        self.start = start
        self.elapsed = 0.0  # seconds since `start`, on both timelines
        self.sleep_moves_time = sleep_moves_time
        self.waits: list[float] = []
        self._sleepers: list[tuple[float, int, anyio.Event]] = []  # (monotonic deadline, order, wake-up)
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return MONOTONIC_START + self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.sleep_moves_time or seconds <= 0:
            if seconds > 0:
                self.advance(seconds)
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (self.monotonic() + seconds, next(self._seq), event))
        await event.wait()  # a cancelled sleeper leaves a stale entry; waking it later is harmless

    def advance(self, seconds: float) -> None:
        """Jump forward; sleepers whose deadline has passed are woken (they run when the test next awaits)."""
        self.elapsed += seconds
        while self._sleepers and self._sleepers[0][0] <= self.monotonic():
            heapq.heappop(self._sleepers)[2].set()

    async def settle(self) -> None:
        """Let every runnable task run until all of them wait."""
        me = asyncio.current_task()
        for _ in range(10_000):
            await anyio.lowlevel.checkpoint()
            if all(task is me or _blocked(task) for task in asyncio.all_tasks()):
                return
        raise AssertionError("tasks never settled")

    async def run_for(self, seconds: float) -> None:
        await self.run_until(self.monotonic() + seconds)

    async def run_until(self, target: float) -> None:
        """Move to monotonic time `target`, waking each sleeper at its own deadline, settling in between."""
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, event = heapq.heappop(self._sleepers)
            self.elapsed = max(self.elapsed, deadline - MONOTONIC_START)
            event.set()
            await self.settle()
        self.elapsed = max(self.elapsed, target - MONOTONIC_START)
        await self.settle()

    async def run(self) -> None:
        """Advance until nobody sleeps any more."""
        await self.settle()
        while self._sleepers:
            await self.run_until(self._sleepers[0][0])
