"""On HTTP the active workspace belongs to the authenticated principal: two bearer tokens, two
principals, switching concurrently, never bleed into each other (and the key follows each of them)."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.sandbox.keys import TEAM_ID
from msgflash_mcp.server.serve import http_app

from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

ALICE, BOB = "alice-token-0c1d2e", "bob-token-9f8e7d"
BASE = "http://127.0.0.1:8765"


async def test_two_principals_keep_their_own_active_workspace(monkeypatch: pytest.MonkeyPatch, sandbox_app: Any) -> None:
    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", f"{ALICE},{BOB}")
    app = http_app(make_settings(), sandbox_app=sandbox_app)
    seen: dict[str, list[str]] = {"alice": [], "bob": []}

    async def session(who: str, token: str, workspace: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, headers=headers,
                                      timeout=20) as http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
            switched = await client.call_tool("switch_workspace", {"workspace": workspace})
            assert not switched.is_error
            for _ in range(5):
                result = await client.call_tool("list_instances", {})
                assert result.structured_content is not None
                seen[who].append(result.structured_content["workspace"])
                await anyio.lowlevel.checkpoint()

    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), anyio.create_task_group() as tg:
            tg.start_soon(session, "alice", ALICE, "sandbox-team")
            tg.start_soon(session, "bob", BOB, "personal")
    assert seen["alice"] == ["sandbox-team (sandbox)"] * 5
    assert seen["bob"] == ["personal (sandbox)"] * 5
    instances = [e for e in sandbox_app.state.sandbox.ledger if e["path"] == "/api/v1/instances"]
    assert sorted((e["key_kind"], e["team_id"]) for e in instances) == [("personal", None)] * 5 + [("team", TEAM_ID)] * 5
