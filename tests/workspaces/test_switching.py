"""Team-context switching: the right key and X-Team-Id on every request, visible in every result."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import TEAM_ID
from msgflash_mcp.server.app import build_server

from tests.conftest import call_error, call_ok, make_settings

pytestmark = pytest.mark.anyio


async def test_sandbox_has_personal_and_team_workspaces_with_personal_active(client: Client) -> None:
    result = await call_ok(client, "list_workspaces")
    rows = {row["name"]: row for row in result["data"]}
    assert set(rows) == {"personal", "sandbox-team"}
    assert rows["personal"]["active"] is True and rows["sandbox-team"]["active"] is False
    assert rows["sandbox-team"]["team_id"] == TEAM_ID and rows["sandbox-team"]["kind"] == "team"
    assert "key" not in str(rows).lower().replace("kind", "")


async def test_switching_changes_the_data_and_the_key_on_the_wire(client: Client, ledger: Any) -> None:
    personal = await call_ok(client, "list_instances")
    assert personal["workspace"] == "personal (sandbox)"
    switched = await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    assert switched["data"]["active"] == "sandbox-team"
    team = await call_ok(client, "list_instances")
    assert team["workspace"] == "sandbox-team (sandbox)"
    assert {i["id"] for i in personal["data"]}.isdisjoint({i["id"] for i in team["data"]})
    first, second = [e for e in ledger() if e["path"] == "/api/v1/instances"]
    assert (first["key_kind"], first["team_id"]) == ("personal", None)
    assert (second["key_kind"], second["team_id"]) == ("team", TEAM_ID)


async def test_an_explicit_workspace_argument_wins_over_the_active_one(client: Client, ledger: Any) -> None:
    result = await call_ok(client, "list_instances", {"workspace": "sandbox-team"})
    assert result["workspace"] == "sandbox-team (sandbox)"
    assert ledger()[-1]["key_kind"] == "team"
    assert (await call_ok(client, "list_instances"))["workspace"] == "personal (sandbox)"


async def test_personal_only_routes_use_the_personal_key_while_a_team_is_active(client: Client, ledger: Any) -> None:
    await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    for tool in ("get_usage", "get_account", "get_subscription", "get_billing_usage", "list_payments"):
        result = await call_ok(client, tool)
        assert "workspace" in result
    personal_only = [e for e in ledger() if e["path"] != "/api/v1/billing/plans"]
    assert personal_only and all(e["key_kind"] == "personal" and e["team_id"] is None for e in personal_only)
    plans = await call_ok(client, "list_plans")  # allowed with a team key: it follows the active workspace
    assert plans["workspace"] == "sandbox-team (sandbox)"
    assert ledger()[-1]["key_kind"] == "team"


async def test_an_unknown_workspace_is_refused_with_the_valid_names(client: Client, ledger: Any) -> None:
    text = await call_error(client, "list_instances", {"workspace": "acme"})
    assert 'unknown workspace "acme"' in text and "personal" in text and "sandbox-team" in text
    text = await call_error(client, "switch_workspace", {"workspace": "acme"})
    assert "valid workspaces" in text
    assert ledger() == []


@pytest.mark.parametrize("tool", ["list_instances", "switch_workspace"])
async def test_an_unknown_workspace_name_is_echoed_truncated(tool: str, client: Client, ledger: Any) -> None:
    """A 100 kB name is not sent back whole: the error quotes its start, on one line, and still lists the valid names."""
    name = "a" * 100_000
    text = await call_error(client, tool, {"workspace": name + "\nworkspace: personal"})
    assert len(text) < 400 and "a" * 80 not in text and "\n" not in text
    assert 'unknown workspace "aaaa' in text and "personal, sandbox-team" in text
    assert ledger() == []


async def test_team_only_configuration_explains_how_to_reach_billing(sandbox_app: Any) -> None:
    from msgflash_mcp.sandbox.keys import TEAM_KEY

    settings = make_settings(
        sandbox=False,
        base_url="http://sandbox.invalid",
        teams=[{"name": "acme", "team_id": TEAM_ID, "key": TEAM_KEY}],
    )
    from msgflash_mcp.sandbox.inprocess import sandbox_transport

    server = build_server(settings, http_transport=sandbox_transport(sandbox_app))
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "workspace" not in tools["get_usage"].input_schema["properties"]
        text = await call_error(client, "get_usage")
        assert "MSGFLASH_API_KEY" in text
        result = await call_ok(client, "list_instances")  # the only workspace is the default
        assert result["workspace"] == "acme"
    assert all(e["path"] != "/api/v1/usage" for e in sandbox_app.state.sandbox.ledger)


async def test_each_connection_has_its_own_active_workspace(server: Any) -> None:
    async with Client(server) as first, Client(server) as second:
        await call_ok(first, "switch_workspace", {"workspace": "sandbox-team"})
        assert (await call_ok(first, "list_instances"))["workspace"] == "sandbox-team (sandbox)"
        assert (await call_ok(second, "list_instances"))["workspace"] == "personal (sandbox)"


async def test_instructions_name_the_workspaces_but_no_key(server: Any) -> None:
    from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_KEY

    async with Client(server) as client:
        text = getattr(getattr(client, "initialize_result", None), "instructions", None)
    text = text or server.instructions
    assert "personal" in text and "sandbox-team" in text and "SANDBOX" in text
    assert PERSONAL_KEY not in text and TEAM_KEY not in text


async def test_switching_to_the_active_workspace_says_already_active(client: Client) -> None:
    same = await call_ok(client, "switch_workspace", {"workspace": "personal"})
    assert same["summary"] == "Workspace personal (sandbox) is already active: nothing changed"
    assert same["data"]["changed"] is False
    moved = await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    assert moved["data"]["changed"] is True and "pass `workspace` on that call" in moved["summary"]
    again = await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    assert again["summary"].startswith("Workspace sandbox-team (sandbox) is already active")


async def test_switch_description_points_one_off_calls_to_the_workspace_argument(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert "pass that tool's `workspace` argument instead" in (tools["switch_workspace"].description or "")
