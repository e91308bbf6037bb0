"""apps.degrade: a client without the Apps extension sees the server it saw before the views existed:
the same tools (no `_meta.ui`, no app-only tools), no `ui://` resources, today's token path and results."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.server.app import selected_specs
from msgflash_mcp.server.call import build_tool
from msgflash_mcp.server.core.settings import Settings

from .conftest import CONFIRM_META, apps_extension, connected_instance

pytestmark = pytest.mark.anyio


def wire(tools: list[Any]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


async def test_plain_client_lists_exactly_the_tools_of_a_server_without_apps(settings: Settings, server: MCPServer[Any]) -> None:
    baseline = MCPServer("baseline", tools=[build_tool(spec) for spec in selected_specs(settings)])
    async with Client(server) as client:
        listed = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
    assert wire(listed) == wire(await baseline.list_tools())
    assert not [str(r.uri) for r in resources if str(r.uri).startswith("ui://")]


async def test_apps_client_sees_the_views_and_the_app_only_tools(server: MCPServer[Any]) -> None:
    async with Client(server, extensions=[apps_extension()]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    def bound(uri: str, **ui: Any) -> dict[str, Any]:  # both keys, as the ext-apps SDK's registerAppTool writes
        return {"ui": {"resourceUri": uri, **ui}, "ui/resourceUri": uri}

    assert tools["get_usage"].meta == bound("ui://msgflash/usage")
    assert tools["get_campaign_stats"].meta == bound("ui://msgflash/campaign-stats")
    assert tools["get_instance_health"].meta == bound("ui://msgflash/instance-health")
    assert tools["send_message"].meta == bound("ui://msgflash/review")
    assert tools["bulk_delete_contacts"].meta == bound("ui://msgflash/review")
    for decision in ("app_approve", "app_cancel", "app_refresh"):
        assert tools[decision].meta == bound("ui://msgflash/review", visibility=["app"])

async def test_plain_client_keeps_the_token_path_and_cannot_call_app_tools(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        args = {"instance_id": await connected_instance(client), "to": "+5511912345678", "type": "text", "text": "Hi"}
        pending = await client.call_tool("send_message", args)
        approve = await client.call_tool("app_approve", {"tool": "send_message", "arguments": args, "confirm_token": "x"})
    structured = pending.structured_content or {}
    assert structured["status"] == "confirmation_required"
    assert structured["confirm_token"] in pending.content[0].text  # type: ignore[union-attr]
    assert CONFIRM_META not in (pending.meta or {})
    assert approve.is_error and approve.content[0].text == "Unknown tool: app_approve"  # type: ignore[union-attr]


async def test_read_results_are_identical_with_and_without_apps(server: MCPServer[Any]) -> None:
    # (get_usage counts API requests itself, so two calls differ by design: a health report compares cleanly.)
    async with Client(server) as plain, Client(server, extensions=[apps_extension()]) as apps:
        args = {"instance_id": await connected_instance(plain)}
        a, b = await plain.call_tool("get_instance_health", args), await apps.call_tool("get_instance_health", args)
    assert a.structured_content == b.structured_content
    assert a.content == b.content
    assert a.meta == b.meta
