"""Virtual time for async tests: a monotonic clock and a sleep that only the test moves forward.

``FakeTime.sleep`` parks the caller until the test advances the clock past the caller's deadline,
and ``settle`` lets every runnable task run until all of them wait, so a time read from ``clock()``
right after an awaited call returns is exactly the virtual time it happened at. Used by the
limiter's unit tests and by the end-to-end rate tests (server + sandbox on one virtual clock).

It inspects asyncio tasks: tests using it rely on tests/conftest.py's anyio_backend = "asyncio".
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime
from typing import Any

import anyio
import anyio.lowlevel
from msgflash_mcp.server.clock import Clock


def _blocked(task: asyncio.Task[object]) -> bool:
    waiter = getattr(task, "_fut_waiter", None)  # what anyio.wait_all_tasks_blocked checks, minus its 0.1 s naps
    return waiter is not None and not waiter.done()


class FakeTime:
    """Virtual monotonic clock plus a sleep that waits for it. The test drives time forward."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.waits: list[float] = []
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), event))
        await event.wait()  # a cancelled sleeper leaves a stale entry; waking it later is harmless

    async def settle(self) -> None:
        me = asyncio.current_task()
        for _ in range(10_000):
            await anyio.lowlevel.checkpoint()
            if all(task is me or _blocked(task) for task in asyncio.all_tasks()):
                return
        raise AssertionError("tasks never settled")

    async def advance(self, seconds: float) -> None:
        await self.advance_to(self.now + seconds)

    async def advance_to(self, target: float) -> None:
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, event = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            event.set()
            await self.settle()
        self.now = max(self.now, target)
        await self.settle()

    async def run(self) -> None:
        """Advance until nobody sleeps any more."""
        await self.settle()
        while self._sleepers:
            await self.advance_to(self._sleepers[0][0])


class SandboxTime(Clock):
    """The server's clock (server/clock.py) on the sandbox's simulated time: `now()` reads it and `sleep()`
    moves it (then lets the sandbox do what fell due), so following a job or a retry's pause never waits
    for real and both sides agree on the time. `slept` records every pause."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.sandbox.clock.now()

    def monotonic(self) -> float:
        return self.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.sandbox.clock.advance(seconds)
        self.sandbox.tick()
        await anyio.lowlevel.checkpoint()
