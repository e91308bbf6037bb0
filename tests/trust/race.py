"""A window onto the recheck→write race: the sandbox's transport, holding a confirmed call's last read before
its write until another write of this server has landed (or queued behind the workspace's write lock).

The parallel batch of issue 19 only loses when the other write falls between the confirmed call's decisive
reads and its POST; on an idle machine that is luck. `RaceWindow` makes it the case every time: it counts
the reads (GET) of the confirmed call alone, and at its last one opens the window (`opened`) and holds the
answer until `landed()` says the other write went through or waits for the lock. Every wait is bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
from msgflash_mcp.sandbox.inprocess import sandbox_transport

WAIT = 10.0  # seconds the window stays open at most: a broken lock or a stuck write fails the test, never hangs


class RaceWindow(httpx2.AsyncBaseTransport):
    def __init__(self, sandbox_app: Any) -> None:
        self._inner = sandbox_transport(sandbox_app)
        self._reads_left: int | None = None
        self._landed: Callable[[], bool] = lambda: True
        self.opened = anyio.Event()
        self.reads = 0  # GETs seen while counting (how many reads a preview made: `count_reads`)

    def count_reads(self) -> None:
        self.reads = 0

    def arm(self, after_reads: int, landed: Callable[[], bool]) -> None:
        """Open the window after the `after_reads`-th GET from now (its answer held until `landed()`)."""
        self._reads_left = after_reads
        self._landed = landed
        self.opened = anyio.Event()

    def disarm(self) -> None:
        self._reads_left = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "GET":
            return response
        self.reads += 1
        if self._reads_left is None:
            return response
        self._reads_left -= 1
        if self._reads_left == 0:
            self._reads_left = None
            self.opened.set()
            with anyio.fail_after(WAIT):
                # Polled at checkpoints (no time passes): "queued behind the lock" has no event to wait on.
                while not self._landed():
                    await anyio.lowlevel.checkpoint()
        return response
