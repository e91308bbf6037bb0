"""The review card as a confirmation channel, over MCP (the browser tests drive the same through the view).

apps.card.*: an Apps client's guarded call returns the plan with the token only in `_meta`; `app_approve`
acts once through the guarded path; `app_cancel` sends nothing; the form stays available as a fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.server.app import build_server

from tests.conftest import mutations
from tests.guard.conftest import Elicitor

from .conftest import CONFIRM_META, apps_extension, card_confirmation, connected_instance

pytestmark = pytest.mark.anyio

TEXT = "Hi Ana, the sale starts now: https://shop.example/sale"


async def send_args(client: Client) -> dict[str, Any]:
    return {"instance_id": await connected_instance(client), "to": "+5511912345678", "type": "text", "text": TEXT}


def sends(ledger: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [e for e in mutations(ledger()) if e["method"] == "POST" and e["path"].startswith("/api/v1/messages")]


async def test_card_keeps_the_token_away_from_the_model(server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]) -> None:
    async with Client(server, extensions=[apps_extension()]) as client:
        result = await client.call_tool("send_message", await send_args(client))
    confirmation = card_confirmation(result)
    token = confirmation["token"]
    structured = result.structured_content or {}
    assert structured["status"] == "confirmation_required"
    assert "confirm_token" not in structured
    assert token not in result.content[0].text  # type: ignore[union-attr]
    assert "review card" in structured["summary"]
    assert structured["preview"]["action"]  # the model still reads what is proposed
    assert confirmation["tool"] == "send_message" and confirmation["arguments"]["text"] == TEXT
    assert sends(ledger) == []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_approve_acts_once_and_a_second_approve_replays(
    mode: str, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    async with Client(server, mode=mode, extensions=[apps_extension()]) as client:
        confirmation = card_confirmation(await client.call_tool("send_message", await send_args(client)))
        decision = {"tool": confirmation["tool"], "arguments": confirmation["arguments"], "confirm_token": confirmation["token"]}
        first = await client.call_tool("app_approve", decision)
        second = await client.call_tool("app_approve", decision)
    assert not first.is_error and (first.structured_content or {})["status"] == "ok"
    assert (second.structured_content or {})["status"] == "replayed"
    assert len(sends(ledger)) == 1


async def test_approve_with_changed_arguments_sends_nothing(server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]) -> None:
    async with Client(server, extensions=[apps_extension()]) as client:
        confirmation = card_confirmation(await client.call_tool("send_message", await send_args(client)))
        forged = {**confirmation["arguments"], "text": "Different text https://evil.example"}
        result = await client.call_tool("app_approve", {"tool": "send_message", "arguments": forged, "confirm_token": confirmation["token"]})
    assert result.is_error
    assert sends(ledger) == []


async def test_cancel_sends_nothing(server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]) -> None:
    async with Client(server, extensions=[apps_extension()]) as client:
        confirmation = card_confirmation(await client.call_tool("send_message", await send_args(client)))
        result = await client.call_tool("app_cancel", {"tool": "send_message", "arguments": confirmation["arguments"], "confirm_token": confirmation["token"]})
    assert (result.structured_content or {})["status"] == "declined"
    assert sends(ledger) == []


async def test_app_tools_refuse_tools_that_need_no_confirmation(server: MCPServer[Any]) -> None:
    async with Client(server, extensions=[apps_extension()]) as client:
        result = await client.call_tool("app_approve", {"tool": "get_usage", "arguments": {}, "confirm_token": "cfm_x"})
    assert result.is_error and "needs confirmation" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_form_stays_available_for_clients_with_elicitation(
    mode: str, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    """Apps + elicitation: the card first; the identical call again asks in the form (accept acts once)."""
    elicitor = Elicitor("accept")
    async with Client(server, mode=mode, extensions=[apps_extension()], elicitation_callback=elicitor) as client:
        args = await send_args(client)
        card = await client.call_tool("send_message", args)
        card_confirmation(card)
        assert "in a form" in (card.structured_content or {})["summary"]
        assert elicitor.messages == []
        formed = await client.call_tool("send_message", args)
    assert len(elicitor.messages) == 1
    assert (formed.structured_content or {})["status"] == "ok"
    assert len(sends(ledger)) == 1


async def test_a_changed_plan_comes_back_as_a_new_card_and_sends_nothing(
    server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    """The guard re-checks the plan when the card's confirmation is redeemed: a grown group is asked again."""
    async with Client(server, extensions=[apps_extension()]) as client:
        groups = (await client.call_tool("list_groups", {})).structured_content["data"]["groups"]
        vips = next(g for g in groups if g["name"] == "VIPs")
        args = {"instance_id": await connected_instance(client), "name": "BF", "schedule": "2026-12-01T10:00:00Z",
                "recipients_type": "group", "group_id": vips["id"], "type": "text", "body": TEXT}
        first = card_confirmation(await client.call_tool("create_campaign", args))
        members = (await client.call_tool("list_group_members", {"group_id": vips["id"]})).structured_content["data"]
        inside = {m["id"] for m in members["members"]}
        contacts = (await client.call_tool("list_contacts", {})).structured_content["data"]["contacts"]
        await client.call_tool("add_group_members", {"group_id": vips["id"], "contact_ids": [c["id"] for c in contacts if c["id"] not in inside][:3]})
        again = await client.call_tool("app_approve", {"tool": "create_campaign", "arguments": first["arguments"], "confirm_token": first["token"]})
        second = card_confirmation(again)
    structured = again.structured_content or {}
    assert structured["status"] == "confirmation_required" and "confirm_token" not in structured
    assert "recipients 5 → 8" in structured["preview"]["changes"]
    assert second["token"] != first["token"]
    assert [e for e in mutations(ledger()) if e["path"].startswith("/api/v1/campaigns")] == []


# ---------------------------------------------------------------------------------- never a dead end


async def test_the_same_call_again_without_a_form_gives_the_token_for_the_conversation(
    server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    """A host that cannot relay the card's click: the model is told to call again, and that call returns
    the plain token path (to use after the person agrees in the conversation), not another tokenless card."""
    async with Client(server, extensions=[apps_extension()]) as client:
        args = await send_args(client)
        card = await client.call_tool("send_message", args)
        summary = (card.structured_content or {})["summary"]
        again = await client.call_tool("send_message", args)
        token = (again.structured_content or {}).get("confirm_token")
        assert isinstance(token, str) and sends(ledger) == []
        done = await client.call_tool("send_message", {**args, "confirm_token": token})
    assert "do not call" not in summary
    assert "calling send_message again with identical arguments returns a confirm_token" in summary
    assert "agree in the conversation" in summary
    assert CONFIRM_META not in (again.meta or {})
    assert (done.structured_content or {})["status"] == "ok"
    assert len(sends(ledger)) == 1


@pytest.mark.parametrize("how", ["unknown token", "server restarted"])
async def test_a_stale_confirmation_comes_back_as_a_fresh_card_in_plain_words(
    how: str, settings: Any, sandbox_app: Any, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    """Approve on a card whose token is gone (expired, or the memory store went with a restart): nothing is
    sent, no error in the model's words; a new card of the live plan says why, and approving it acts once."""
    async with Client(server, extensions=[apps_extension()]) as client:
        args = await send_args(client)
        token = card_confirmation(await client.call_tool("send_message", args))["token"]
    restarted = build_server(settings, sandbox_app=sandbox_app) if how == "server restarted" else server
    async with Client(restarted, extensions=[apps_extension()]) as client:
        stale = token if how == "server restarted" else "cfm_" + "x" * 32
        fresh = await client.call_tool("app_approve", {"tool": "send_message", "arguments": args, "confirm_token": stale})
        assert not fresh.is_error and sends(ledger) == []
        renewed = card_confirmation(fresh)
        done = await client.call_tool("app_approve", {"tool": "send_message", "arguments": renewed["arguments"],
                                                      "confirm_token": renewed["token"]})
    structured = fresh.structured_content or {}
    assert structured["status"] == "confirmation_required" and "confirm_token" not in structured
    assert "expired (or the server restarted), so nothing was sent" in structured["note"]
    assert renewed["token"] != token
    assert (done.structured_content or {})["status"] == "ok"
    assert len(sends(ledger)) == 1


async def test_refresh_plans_again_as_a_new_card_and_sends_nothing(
    server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    """A host that dropped the result's `_meta` leaves the card without its confirmation: app_refresh
    plans the same call afresh, and the new card carries a confirmation of its own."""
    async with Client(server, extensions=[apps_extension()]) as client:
        args = await send_args(client)
        await client.call_tool("send_message", args)
        refreshed = await client.call_tool("app_refresh", {"tool": "send_message", "arguments": args})
        again = await client.call_tool("send_message", args)  # the model's identical call: the conversation's path
    confirmation = card_confirmation(refreshed)
    assert confirmation["arguments"] == args and confirmation["effect"] == "send"
    assert "confirm_token" in (again.structured_content or {})
    assert sends(ledger) == []


async def test_a_delete_card_names_its_selector_and_says_it_deletes(server: MCPServer[Any]) -> None:
    async with Client(server, extensions=[apps_extension()]) as client:
        card = await client.call_tool("bulk_delete_contacts", {"tags": ["vip"]})
    assert card_confirmation(card)["effect"] == "delete"
    assert (card.structured_content or {})["preview"]["who"]["selector"] == "contacts tagged vip"


@pytest.mark.parametrize("decision", ["app_cancel", "app_approve"])
async def test_after_the_person_decides_on_a_card_the_same_call_shows_a_card_again(
    decision: str, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    """The token for the conversation is the way through for hosts whose card never reaches the person. Once the
    person clicked on the card, it does reach them: the same call again is their question, on a new card, and the
    model never holds a token that would skip them (a declined send asked again must not come back as a token)."""
    async with Client(server, extensions=[apps_extension()]) as client:
        args = await send_args(client)
        confirmation = card_confirmation(await client.call_tool("send_message", args))
        await client.call_tool(decision, {"tool": "send_message", "arguments": confirmation["arguments"],
                                          "confirm_token": confirmation["token"]})
        again = await client.call_tool("send_message", args)
    structured = again.structured_content or {}
    assert structured["status"] == "confirmation_required" and "confirm_token" not in structured
    assert card_confirmation(again)["token"] != confirmation["token"]
    assert len(sends(ledger)) == (1 if decision == "app_approve" else 0)
