"""The last connection to end closes what the runtime opened (the campaign record, Redis); a later
connection opens them again."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from msgflash_mcp.server.campaign_record import CampaignEntry
from msgflash_mcp.server.runtime import Runtime, connect

from tests.conftest import make_settings

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
