"""The per-workspace write lock (server/guard/write_lock.py): one writer per workspace, on one process and
across replicas sharing a Redis; a bounded wait that ends in a clear error with nothing sent; and the write
count that tells a confirmed call whether its plan must be rebuilt under the lock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import AWA_CONTACT_ID
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.guard.write_lock import WriteBusy, WriteLocks

from tests.conftest import call_error, make_settings, mutations
from tests.redis_server import redis_url  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]


@asynccontextmanager
async def held_elsewhere(locks: WriteLocks, workspace: str) -> AsyncIterator[None]:
    """Another call's write in `workspace`, running for as long as the block lasts (in a task of its own:
    anyio locks refuse a second acquisition by their holder's task)."""
    entered, leave = anyio.Event(), anyio.Event()

    async def writer() -> None:
        async with locks.hold(workspace):
            entered.set()
            await leave.wait()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            await entered.wait()
            try:
                yield
            finally:
                leave.set()


async def test_a_plan_is_stale_only_when_a_write_finished_since_it_was_noted() -> None:
    locks = WriteLocks()
    seen = await locks.generation("personal")
    async with locks.hold("personal", seen=seen) as held:
        assert not held.stale  # nothing happened in between: no second read of the plan
    async with locks.hold("personal", seen=seen) as held:  # held, but nothing written: still not stale
        assert not held.stale
        held.writing()
    async with locks.hold("personal", seen=seen) as held:
        assert held.stale
    async with locks.hold("acme", seen=await locks.generation("acme")) as held:
        assert not held.stale  # another workspace's writes change nothing here
    async with locks.hold("personal") as held:
        assert held.stale  # nothing noted (a person answered during the call): always rebuilt


async def test_one_writer_per_workspace_and_a_bounded_wait_that_says_nothing_was_sent() -> None:
    locks = WriteLocks(wait=0)
    async with held_elsewhere(locks, "personal"):
        with pytest.raises(WriteBusy, match=r"another change in workspace personal .*nothing was sent"):
            async with locks.hold("personal"):
                pytest.fail("two writers held one workspace")
        async with locks.hold("acme"):  # other workspaces never wait for this one
            pass
    async with locks.hold("personal"):  # released, even after the refusal
        pass


async def test_writers_of_one_workspace_run_one_after_another() -> None:
    locks = WriteLocks()
    inside = 0
    most = 0

    async def writer() -> None:
        nonlocal inside, most
        async with locks.hold("personal") as held:
            inside += 1
            most = max(most, inside)
            await anyio.lowlevel.checkpoint()  # let the others try to enter
            held.writing()
            inside -= 1

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(writer)
    assert most == 1
    assert await locks.generation("personal") == 5


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Any]:  # noqa: F811
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_replicas_sharing_a_redis_take_turns_and_see_each_others_writes(redis_url: str) -> None:  # noqa: F811
    import redis.asyncio as aioredis

    prefix = f"msgflash:test-write:{uuid.uuid4().hex}:"
    a_conn, b_conn = aioredis.from_url(redis_url), aioredis.from_url(redis_url)
    try:
        a, b = WriteLocks(a_conn, prefix=prefix), WriteLocks(b_conn, wait=0.2, prefix=prefix)
        seen_by_b = await b.generation("personal")
        with anyio.fail_after(10):
            async with a.hold("personal") as held:
                with pytest.raises(WriteBusy, match="nothing was sent"):
                    async with b.hold("personal"):  # another process: B's own anyio lock is free
                        pytest.fail("two replicas held one workspace")
                held.writing()
            async with b.hold("personal", seen=seen_by_b) as held:
                assert held.stale  # replica A wrote since B planned
    finally:
        await a_conn.aclose()
        await b_conn.aclose()


@pytest.mark.redis
async def test_a_replica_that_died_holding_the_lock_frees_it_when_its_lease_ends(redis: Any) -> None:
    prefix = f"msgflash:test-write:{uuid.uuid4().hex}:"
    await redis.set(prefix + "personal", "token-of-a-replica-that-died", px=300)  # what its lock leaves behind
    alive = WriteLocks(redis, wait=5, prefix=prefix)
    with anyio.fail_after(10):
        async with alive.hold("personal"):
            assert await redis.get(prefix + "personal") != b"token-of-a-replica-that-died"


async def test_a_write_waiting_too_long_for_its_workspace_sends_nothing(sandbox_app: Any, ledger: Ledger) -> None:
    server = build_server(make_settings(), sandbox_app=sandbox_app)
    runtime = server.runtime
    runtime.write_locks = WriteLocks(wait=0)
    async with Client(server) as client:
        async with held_elsewhere(runtime.write_locks, "personal"):  # another write of this workspace, still running
            error = await call_error(client, "update_contact", {"contact_id": AWA_CONTACT_ID, "name": "Awa D."})
        assert "nothing was sent" in error and "Call again" in error
        assert mutations(ledger()) == []
        result = await client.call_tool("update_contact", {"contact_id": AWA_CONTACT_ID, "name": "Awa D."})
    assert not result.is_error and len(mutations(ledger())) == 1
