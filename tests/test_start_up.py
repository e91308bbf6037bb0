"""What a server does before it answers `tools/list`, and what it leaves to the first call (bench/latency.py
measures how long start-up takes; these tests pin what it does)."""

from __future__ import annotations

import pytest
from mcp import Client
from msgflash_mcp.sandbox.on_first_use import SandboxOnFirstUse
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.settings import Settings

from tests.conftest import call_ok

pytestmark = pytest.mark.anyio


async def test_listing_tools_leaves_the_embedded_sandbox_unmade_until_a_call_needs_it() -> None:
    server = build_server(Settings(sandbox=True, sandbox_db=":memory:", rate_limit=0))
    sandbox = server.runtime.sandbox_app
    assert isinstance(sandbox, SandboxOnFirstUse) and server.runtime.is_sandbox
    async with Client(server) as client:
        tools = await client.list_tools()
        assert len(tools.tools) > 50
        assert not sandbox.built
        found = await call_ok(client, "list_instances", {})
    assert sandbox.built
    assert found["data"], "the sandbox made on the first call answers with its seeded instances"
    assert any(entry["path"] == "/api/v1/instances" for entry in sandbox.state.sandbox.ledger)
