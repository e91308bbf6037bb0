"""One writer at a time per workspace: a confirmed write's final recheck and its POST are never split by
another write of this server (issue 19.3), on one process and across replicas sharing a Redis.

Every mutating call holds its workspace's lock from its last plan check through its write; reads never
take it, and a call takes one lock only (so no lock waits on another: no deadlock). Waiting is bounded
(`WAIT`): past it the call fails with `WriteBusy`, and nothing was sent.

Writes are counted per workspace (the *generation*). A call notes the generation before it plans
(`generation`); holding the lock, `Held.stale` says whether any write of this server finished since. Only
then is the plan rebuilt under the lock: a plan nobody could have changed in between is not read twice.
The count moves after each write, success or not, before the lock is released, so a plan built before a
write that lands after it always sees a different generation.

Across replicas the lock is a redis-py `Lock` (a key with a lease, `LEASE`, released only by its
holder's token) and the generation an INCR'd key; each process first takes its own anyio lock, so
one process's calls queue locally instead of polling Redis. Writers outside this server (the dashboard,
another integration) are not serialised by any of this: the recheck still catches what they changed
before it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError

log = logging.getLogger("msgflash_mcp.write_lock")

# The longest a call waits for its workspace's other writes (locally and in Redis together).
WAIT = 30.0
# How long a replica's Redis lock outlives a holder that died mid-write; longer than any one write (a few
# HTTP attempts of `Settings.timeout`), so a slow write never loses it while it still runs.
LEASE = 120.0
KEY_PREFIX = "msgflash:write:"
SERVER_ONLY = "-"  # the key of the server's own tools (workspace switching), which have no workspace


class WriteBusy(ToolError):
    """The workspace's lock was not free within the wait: the call sent nothing."""


@dataclass
class Held:
    """The lock of one workspace, held; `stale` when a write finished since the caller noted `seen`. The
    holder calls `writing()` before its request leaves: only then does the generation move on release."""

    generation: int
    seen: int | None
    wrote: bool = False

    @property
    def stale(self) -> bool:
        return self.seen is None or self.seen != self.generation

    def writing(self) -> None:
        self.wrote = True


class WriteLocks:
    """The per-workspace write locks of one runtime (memory only, or shared through `redis`)."""

    def __init__(self, redis: Any = None, *, wait: float = WAIT, lease: float = LEASE, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self._wait = wait
        self._lease = lease
        self._prefix = prefix
        self._local: dict[str, anyio.Lock] = {}
        self._generations: dict[str, int] = {}
        self._polling: dict[str, int] = {}  # calls of this process waiting for the Redis lock, per workspace

    async def generation(self, workspace: str | None) -> int:
        """How many writes this server finished in `workspace`: note it before planning."""
        key = workspace or SERVER_ONLY
        if self._redis is None:
            return self._generations.get(key, 0)
        return int(await self._redis.get(self._prefix + "gen:" + key) or 0)

    def waiting(self, workspace: str | None) -> int:
        """How many calls of this process wait for `workspace`'s lock now, here or in Redis (diagnostics; the
        race tests)."""
        key = workspace or SERVER_ONLY
        local = self._local.get(key)
        return (local.statistics().tasks_waiting if local is not None else 0) + self._polling.get(key, 0)

    @asynccontextmanager
    async def hold(self, workspace: str | None, *, seen: int | None = None) -> AsyncGenerator[Held]:
        """Hold `workspace`'s write lock around a recheck and a write; the generation moves on exit."""
        key = workspace or SERVER_ONLY
        local = self._local.setdefault(key, anyio.Lock())
        start = anyio.current_time()
        try:
            local.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(self._wait) as waited:
                await local.acquire()
            if waited.cancelled_caught:
                raise self._busy(workspace) from None
        try:
            if self._redis is None:
                held = Held(self._generations.get(key, 0), seen)
                try:
                    yield held
                finally:
                    if held.wrote:
                        self._generations[key] = held.generation + 1
            else:
                left = self._wait - (anyio.current_time() - start)
                async with self._shared(key, workspace, left, seen) as held:
                    yield held
        finally:
            local.release()

    @asynccontextmanager
    async def _shared(self, key: str, workspace: str | None, wait: float, seen: int | None) -> AsyncGenerator[Held]:
        from redis.asyncio.lock import Lock

        # One Lock object per hold, its token kept on the object (not thread-local: tasks share a thread).
        lock = Lock(self._redis, self._prefix + key, timeout=self._lease, sleep=0.02, blocking_timeout=max(wait, 0.01),
                    thread_local=False, raise_on_release_error=False)
        self._polling[key] = self._polling.get(key, 0) + 1
        try:
            acquired = await lock.acquire()
        finally:
            self._polling[key] -= 1
        if not acquired:
            raise self._busy(workspace)
        counter = self._prefix + "gen:" + key
        held: Held | None = None
        try:
            held = Held(int(await self._redis.get(counter) or 0), seen)
            yield held
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled call still counts its write and frees the lock
                try:
                    if held is not None and held.wrote:
                        await self._redis.incr(counter)
                finally:
                    if not await lock.owned():
                        log.warning("the write lock of %s outlived its %g s lease", workspace or "the server", self._lease)
                    await lock.release()

    def _busy(self, workspace: str | None) -> WriteBusy:
        where = f"workspace {workspace}" if workspace else "this server"
        return WriteBusy(
            f"another change in {where} was still being made after {self._wait:g} s; nothing was sent. "
            "Call again in a moment"
        )


__all__ = ["Held", "WriteBusy", "WriteLocks"]
