"""Resources and completions through the in-memory client, against the in-process sandbox.

They must go through the same workspace resolution, keys and API client as the tools: the ledger
shows which key and team id every request carried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import PromptReference, ResourceTemplateReference
from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_ID, TEAM_KEY
from msgflash_mcp.sandbox.seed import FINISHED_CAMPAIGN_ID
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import Settings

from .conftest import call_ok

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
TEMPLATE_REF = ResourceTemplateReference(type="ref/resource", uri="msgflash://templates/{template_id}")


async def read(client: Client, uri: str) -> tuple[dict[str, Any], str]:
    with anyio.fail_after(10):
        result = await client.read_resource(uri)
    content = result.contents[0]
    assert content.mime_type == "application/json"
    text: str = content.text  # type: ignore[union-attr]
    assert PERSONAL_KEY not in text and TEAM_KEY not in text and "msgf_" not in text
    return json.loads(text), text


async def template_ids(client: Client, value: str = "") -> list[str]:
    with anyio.fail_after(10):
        result = await client.complete(TEMPLATE_REF, {"name": "template_id", "value": value})
    return result.completion.values


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_listing_on_both_eras(server: Any, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        with anyio.fail_after(10):
            resources = {r.uri: r for r in (await client.list_resources()).resources}
            templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert set(resources) == {"msgflash://workspaces", "msgflash://instances", "msgflash://usage", "msgflash://campaigns",
                              "msgflash://opt-outs"}
    assert all(r.description and r.mime_type == "application/json" for r in resources.values())
    assert templates == {"msgflash://templates/{template_id}", "msgflash://campaigns/{campaign_id}/stats"}


async def test_workspaces_resource_follows_switch_workspace(client: Client) -> None:
    data, _ = await read(client, "msgflash://workspaces")
    assert data["sandbox"] is True
    rows = {row["name"]: row for row in data["workspaces"]}
    assert rows["personal"] == {"name": "personal", "kind": "personal", "active": True}
    assert rows["sandbox-team"]["kind"] == "team" and rows["sandbox-team"]["active"] is False
    await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    data, _ = await read(client, "msgflash://workspaces")
    assert [row["name"] for row in data["workspaces"] if row["active"]] == ["sandbox-team"]


async def test_instances_resource_carries_live_state(client: Client, ledger: Ledger) -> None:
    data, _ = await read(client, "msgflash://instances")
    assert data["workspace"] == "personal (sandbox)"
    instances = data["data"]
    assert instances and all("state" in instance for instance in instances)
    assert {i["status"] for i in instances} >= {"connected"}
    assert any(i["state"].get("status") == "connected" for i in instances)
    paths = [(e["path"], e["key_kind"]) for e in ledger()]
    assert ("/api/v1/instances", "personal") in paths
    assert sum(1 for p, _ in paths if p.endswith("/state")) == len(instances)


async def test_instances_resource_uses_the_active_team_key(client: Client, ledger: Ledger) -> None:
    await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    data, _ = await read(client, "msgflash://instances")
    assert data["workspace"] == "sandbox-team (sandbox)"
    entries = [e for e in ledger() if e["path"].startswith("/api/v1/instances")]
    assert entries and all(e["key_kind"] == "team" and e["team_id"] == TEAM_ID for e in entries)


async def test_usage_resource_always_uses_the_personal_key(client: Client, ledger: Ledger) -> None:
    await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    data, _ = await read(client, "msgflash://usage")
    assert data["workspace"] == "personal (sandbox)"
    assert "limits" in data["data"] and "usage" in data["data"]
    entry = next(e for e in ledger() if e["path"] == "/api/v1/billing/usage")
    assert entry["key_kind"] == "personal" and entry["team_id"] is None


async def test_usage_without_personal_key_says_what_to_configure(sandbox_app: Any) -> None:
    settings = Settings(
        sandbox=False,
        rate_limit=0,
        teams=[{"name": "sandbox-team", "team_id": TEAM_ID, "key": TEAM_KEY}],  # type: ignore[list-item]
    )
    server = build_server(settings, sandbox_app=sandbox_app)
    async with Client(server) as client:
        with pytest.raises(MCPError) as caught, anyio.fail_after(10):
            await client.read_resource("msgflash://usage")
    assert "MSGFLASH_API_KEY" in caught.value.error.message
    assert TEAM_KEY not in caught.value.error.message


async def test_template_completion_and_read(client: Client) -> None:
    ids = await template_ids(client)
    assert len(ids) >= 2 and len(set(ids)) == len(ids)
    first = ids[0]
    assert await template_ids(client, first[:6]) == [first] or first in await template_ids(client, first[:6])
    data, _ = await read(client, f"msgflash://templates/{first}")
    assert data["data"]["id"] == first
    assert data["workspace"] == "personal (sandbox)"
    assert "third parties" in data["note"]  # template text is untrusted content


async def test_template_completion_matches_names(client: Client) -> None:
    ids = await template_ids(client)
    data, _ = await read(client, f"msgflash://templates/{ids[-1]}")
    fragment = data["data"]["name"][1:5].lower()
    assert ids[-1] in await template_ids(client, fragment)
    assert await template_ids(client, "zzzz-no-such") == []


async def test_unknown_template_is_resource_not_found(client: Client) -> None:
    with pytest.raises(MCPError) as caught, anyio.fail_after(10):
        await client.read_resource("msgflash://templates/00000000-0000-4000-8000-000000000000")
    assert caught.value.error.code == -32602
    assert "NOT_FOUND" in caught.value.error.message


async def test_template_id_cannot_change_the_route(client: Client, ledger: Ledger) -> None:
    with pytest.raises(MCPError), anyio.fail_after(10):
        await client.read_resource("msgflash://templates/..%2Fbilling%2Fusage")
    assert not any("billing" in e["path"] for e in ledger())


async def test_campaign_stats_resource(client: Client) -> None:
    data, _ = await read(client, f"msgflash://campaigns/{FINISHED_CAMPAIGN_ID}/stats")
    assert data["data"]["campaignId"] == FINISHED_CAMPAIGN_ID
    assert "stats" in data["data"]


async def test_workspace_completion_for_prompts(client: Client) -> None:
    ref = PromptReference(type="ref/prompt", name="weekly_delivery_report")
    with anyio.fail_after(10):
        everything = await client.complete(ref, {"name": "workspace", "value": ""})
        some = await client.complete(ref, {"name": "workspace", "value": "sand"})
    assert everything.completion.values == ["personal", "sandbox-team"]
    assert some.completion.values == ["sandbox-team"]


async def test_other_completions_are_empty_not_errors(client: Client) -> None:
    ref = ResourceTemplateReference(type="ref/resource", uri="msgflash://campaigns/{campaign_id}/stats")
    with anyio.fail_after(10):
        result = await client.complete(ref, {"name": "campaign_id", "value": "a"})
    assert result.completion.values == []


async def test_logging_set_level_is_accepted_on_legacy(server: Any) -> None:
    async with Client(server, mode="legacy") as client:
        capabilities = client.server_capabilities
        assert capabilities.logging is not None and capabilities.completions is not None
        with anyio.fail_after(10), pytest.warns(MCPDeprecationWarning):  # the client warns; the server answers
            for level in ("debug", "warning", "emergency"):
                result = await client.set_logging_level(level)
                assert result.model_dump(exclude_none=True, exclude={"result_type"}) == {}
    assert server.runtime.client_log_level == "emergency"
