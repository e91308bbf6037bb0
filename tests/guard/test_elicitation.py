"""guard.elicit: clients that can show a form are asked, on both protocol eras, with the blast
radius in the question; accept acts exactly once, decline/cancel do nothing and say so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

from tests.conftest import call_ok, mutations

from .conftest import Elicitor, personal_contacts

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]  # auto = 2026-07-28 (InputRequiredResult rounds); legacy = elicitation/create


def deletes(entries: list[dict[str, Any]], contact_id: str) -> list[dict[str, Any]]:
    return [e for e in mutations(entries) if e["method"] == "DELETE" and e["path"].endswith(contact_id)]


@pytest.mark.parametrize("mode", MODES)
async def test_accept_acts_exactly_once(
    mode: str, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    contact = personal_contacts()[1]
    elicitor = Elicitor("accept")
    async with Client(server, mode=mode, elicitation_callback=elicitor) as client:
        out = await call_ok(client, "delete_contact", {"contact_id": contact["id"]})
    assert out["status"] == "ok"
    assert out["data"]["deleted"] is True
    assert len(elicitor.messages) == 1
    assert len(deletes(ledger(), contact["id"])) == 1
    assert len(mutations(ledger())) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_question_shows_the_blast_radius(mode: str, server: MCPServer[Any]) -> None:
    contact = personal_contacts()[2]
    elicitor = Elicitor("decline")
    async with Client(server, mode=mode, elicitation_callback=elicitor) as client:
        await call_ok(client, "delete_contact", {"contact_id": contact["id"]})
    (message,) = elicitor.messages
    assert contact["name"] in message
    assert contact["phone"] in message
    assert "workspace: personal" in message
    assert elicitor.schemas[0]["properties"]["confirm"]["type"] == "boolean"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_decline_and_cancel_do_nothing(
    mode: str, action: str, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    contact = personal_contacts()[3]
    async with Client(server, mode=mode, elicitation_callback=Elicitor(action)) as client:
        result = await client.call_tool("delete_contact", {"contact_id": contact["id"]})
    assert not result.is_error  # a person saying no is an answer, not a failure
    out = result.structured_content
    assert out is not None
    assert out["status"] == "declined"
    assert "nothing was sent or changed" in out["summary"].lower()
    assert "confirm_token" not in out
    assert mutations(ledger()) == []


@pytest.mark.parametrize("mode", MODES)
async def test_accept_with_unticked_box_is_a_decline(
    mode: str, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    contact = personal_contacts()[4]
    async with Client(server, mode=mode, elicitation_callback=Elicitor("accept", {"confirm": False})) as client:
        out = await call_ok(client, "delete_contact", {"contact_id": contact["id"]})
    assert out["status"] == "declined"
    assert mutations(ledger()) == []


@pytest.mark.parametrize("mode", MODES)
async def test_each_call_asks_again(
    mode: str, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    """An accepted answer is good for one call: a second delete asks again (and here is declined)."""
    first, second = personal_contacts()[5:7]
    yes, no = Elicitor("accept"), Elicitor("decline")
    async with Client(server, mode=mode, elicitation_callback=yes) as client:
        await call_ok(client, "delete_contact", {"contact_id": first["id"]})
    async with Client(server, mode=mode, elicitation_callback=no) as client:
        out = await call_ok(client, "delete_contact", {"contact_id": second["id"]})
    assert out["status"] == "declined"
    assert len(yes.messages) == len(no.messages) == 1
    assert [e["path"] for e in mutations(ledger())] == [f"/api/v1/contacts/{first['id']}"]


@pytest.mark.parametrize("mode", MODES)
async def test_write_tools_are_not_asked(mode: str, server: MCPServer[Any]) -> None:
    """WRITE (reversible) tools act without a question; only SEND/DELETE/ADMIN are guarded."""
    elicitor = Elicitor("decline")
    async with Client(server, mode=mode, elicitation_callback=elicitor) as client:
        out = await call_ok(client, "create_contact", {"name": "Nouveau Client", "phone": "+33698765432"})
    assert out["status"] == "ok"
    assert elicitor.messages == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tick", ["yes", 1, "true", None, "missing"])
async def test_only_a_json_true_is_a_tick(
    mode: str, tick: Any, server: MCPServer[Any], ledger: Callable[[], list[dict[str, Any]]]
) -> None:
    """The form's box is a boolean: a client answering `"yes"`, `1`, `"true"`, null or nothing did not tick it.
    Nothing acts, and it is an answer (declined, saying the box was not ticked), never a failed call."""
    contact = personal_contacts()[4]
    content: dict[str, Any] = {} if tick == "missing" else {"confirm": tick}
    async with Client(server, mode=mode, elicitation_callback=Elicitor("accept", content)) as client:
        result = await client.call_tool("delete_contact", {"contact_id": contact["id"]})
    assert mutations(ledger()) == []
    assert not result.is_error, result.content
    out = result.structured_content or {}
    assert out["status"] == "declined"
    assert "box ticked" in out["summary"] and "nothing was sent or changed" in out["summary"].lower()
