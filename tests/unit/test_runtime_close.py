"""The last connection to end closes what the runtime opened (the campaign record, the opt-out store,
Redis) and its own HTTP client; a later connection opens them again."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import redis.asyncio as aioredis
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.server.campaign_record import CampaignEntry
from msgflash_mcp.server.runtime import Runtime, connect

from tests.conftest import make_settings
from tests.redis_server import redis_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio


class CountingRecord:
    """A campaign record (the CampaignRecord protocol) that counts how often it is closed."""

    def __init__(self) -> None:
        self.closed = 0

    async def add(self, entry: CampaignEntry) -> None: ...

    async def list(self, workspace: str | None = None, limit: int = 200) -> list[CampaignEntry]:
        return []

    async def get(self, campaign_id: str) -> CampaignEntry | None:
        return None

    async def unfinished(self, workspace: str) -> list[CampaignEntry]:
        return []

    async def mark_finished(self, campaign_id: str) -> None: ...

    async def close(self) -> None:
        self.closed += 1


async def test_the_last_connection_closes_the_runtime(sandbox_app: Any) -> None:
    runtime = Runtime.create(make_settings(), sandbox_app=sandbox_app)
    record = runtime.campaigns = CountingRecord()
    with anyio.fail_after(10):
        async with connect(runtime):
            async with connect(runtime):
                pass
            assert record.closed == 0  # another connection still uses it
        assert record.closed == 1 and runtime.connections == 0
        async with connect(runtime) as connection:
            assert connection.runtime is runtime
        assert record.closed == 2


async def test_a_cancelled_connection_still_closes_the_runtime(sandbox_app: Any) -> None:
    runtime = Runtime.create(make_settings(), sandbox_app=sandbox_app)
    record = runtime.campaigns = CountingRecord()
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            async with connect(runtime):
                scope.cancel()
                await anyio.sleep_forever()
    assert record.closed == 1


class WatchedTransport(httpx2.AsyncBaseTransport):
    """The sandbox's transport, noting when the HTTP client that owns it closes it."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.closed = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


def connections_to(path: Path) -> list[sqlite3.Connection]:
    """The open SQLite connections of this process to `path` (as SQLite names its main database)."""
    found: list[sqlite3.Connection] = []
    for obj in gc.get_objects():
        if isinstance(obj, sqlite3.Connection):
            try:
                names = [row[2] for row in obj.execute("PRAGMA database_list")]
            except sqlite3.ProgrammingError:  # closed already
                continue
            if str(path) in names:
                found.append(obj)
    return found


def refuses_queries(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("SELECT 1")
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return True
    return False


async def test_closing_closes_the_sqlite_record_the_opt_out_store_and_the_http_client(
    sandbox_app: Any, tmp_path: Path
) -> None:
    db = tmp_path / "record.sqlite3"
    transport = WatchedTransport(sandbox_transport(sandbox_app))
    runtime = Runtime.create(make_settings(campaign_db=str(db)), sandbox_app=sandbox_app, http_transport=transport)
    with anyio.fail_after(10):
        async with connect(runtime) as connection:
            assert await runtime.campaigns.list() == []  # opened on first use: one connection each
            assert await runtime.opt_outs.list("personal") == []
            opened = connections_to(db.resolve())
            assert len(opened) == 2
            assert connection.runtime is runtime and not transport.closed
        assert all(refuses_queries(one) for one in opened)  # the record's and the opt-out store's
        assert transport.closed  # the connection's HTTP client closed its transport
        assert await runtime.campaigns.list() == []  # a later use opens the record again
        await runtime.aclose()
    assert connections_to(db.resolve()) == []


async def test_closing_closes_the_redis_client(sandbox_app: Any, redis_url: str) -> None:  # noqa: F811
    runtime = Runtime.create(make_settings(redis_url=redis_url), sandbox_app=sandbox_app)
    observer = aioredis.from_url(redis_url)
    try:
        with anyio.fail_after(10):
            async with connect(runtime):
                own = str(await runtime.redis.client_id())  # a connection of the runtime's pool
                assert own in {client["id"] for client in await observer.client_list()}
            for _ in range(100):  # the server notes a closed socket a moment after the client closes it
                if own not in {client["id"] for client in await observer.client_list()}:
                    break
                await anyio.lowlevel.checkpoint()
            assert own not in {client["id"] for client in await observer.client_list()}
    finally:
        await observer.aclose()
