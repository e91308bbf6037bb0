"""Prompts: listed with described arguments, static text that names real tools and asks for confirmation."""

from __future__ import annotations

import re
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError

pytestmark = pytest.mark.anyio


async def get_text(client: Client, name: str, arguments: dict[str, str] | None = None) -> str:
    with anyio.fail_after(10):
        result = await client.get_prompt(name, arguments or {})
    assert len(result.messages) == 1 and result.messages[0].role == "user"
    return result.messages[0].content.text  # type: ignore[union-attr]


async def tool_names(client: Client) -> set[str]:
    with anyio.fail_after(10):
        return {tool.name for tool in (await client.list_tools()).tools}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_prompts_are_listed_with_described_arguments(server: Any, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        with anyio.fail_after(10):
            prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == {"plan_campaign", "weekly_delivery_report", "clean_up_contacts"}
    assert all(p.description and p.title for p in prompts.values())
    plan = {a.name: a for a in prompts["plan_campaign"].arguments or []}
    assert set(plan) == {"goal", "audience"} and all(a.required and a.description for a in plan.values())
    report = {a.name: a for a in prompts["weekly_delivery_report"].arguments or []}
    assert set(report) == {"workspace"} and not report["workspace"].required
    assert not prompts["clean_up_contacts"].arguments


async def test_plan_campaign_orders_tools_and_confirms(client: Client) -> None:
    text = await get_text(client, "plan_campaign", {"goal": "spring sale", "audience": "vip group"})
    assert "Goal: spring sale" in text and "Audience: vip group" in text
    order = [text.index(name) for name in ("list_workspaces", "get_instance_state", "preview_template", "create_campaign")]
    assert order == sorted(order)
    assert "explicit yes" in text and "confirm_token" in text


async def test_weekly_report_is_read_only_and_scoped(client: Client) -> None:
    text = await get_text(client, "weekly_delivery_report", {"workspace": "sandbox-team"})
    assert 'workspace="sandbox-team"' in text and "change nothing" in text
    assert not {"send_message", "create_campaign", "delete_contact", "bulk_delete_contacts"} & set(re.findall(r"\w+", text))
    assert "personal" in await get_text(client, "weekly_delivery_report")


async def test_clean_up_contacts_deletes_only_after_approval(client: Client) -> None:
    text = await get_text(client, "clean_up_contacts")
    assert text.index("Change nothing yet") < text.index("bulk_delete_contacts")
    assert "After my approval" in text


async def test_prompts_name_only_tools_of_the_catalogue(client: Client) -> None:
    from msgflash_mcp.server.app import selected_specs
    from msgflash_mcp.server.core.settings import Settings

    catalogue = {spec.name for spec in selected_specs(Settings(sandbox=True))}
    texts = [
        await get_text(client, "plan_campaign", {"goal": "g", "audience": "a"}),
        await get_text(client, "weekly_delivery_report"),
        await get_text(client, "clean_up_contacts"),
    ]
    # every snake_case word that looks like a tool name (verb_object) must be a real tool
    verbs = ("list_", "get_", "create_", "update_", "delete_", "bulk_", "preview_", "switch_", "start_", "remove_", "send_")
    named = {word for text in texts for word in re.findall(r"\b[a-z]+_[a-z_]+\b", text) if word.startswith(verbs)}
    assert named, "prompts should name tools"
    missing = named - catalogue
    assert not missing, f"prompts name unknown tools: {sorted(missing)}"
    assert await tool_names(client) >= {"list_workspaces", "list_instances"}


async def test_missing_required_argument_is_an_error(client: Client) -> None:
    with pytest.raises(MCPError), anyio.fail_after(10):
        await client.get_prompt("plan_campaign", {"goal": "only a goal"})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_missing_required_argument_is_named_not_an_internal_error(server: Any, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as raised:
            await client.get_prompt("plan_campaign", {"goal": "spring sale"})
    assert raised.value.code == -32602
    assert raised.value.message == "prompt plan_campaign needs the argument(s) audience"
