"""guard.token: clients that cannot show a form get a preview and a bound, single-use token.

guard.preview-no-effect, guard.bound-args, guard.single-use (also raced), guard.expiry,
guard.cross-tool, guard.principal (another connection), plus MSGFLASH_CONFIRM and dry-run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.guard import TOKEN_TTL

from tests.conftest import call_error, call_ok, make_settings, mutations
from tests.fake_time import FakeClock

from .conftest import Elicitor, personal_contacts, pin_guard, team_contacts

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
MODES = ["auto", "legacy"]


async def preview(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    out = await call_ok(client, tool, args)
    assert out["status"] == "confirmation_required", out
    assert out["confirm_token"].startswith("cfm_")
    return out


@pytest.mark.parametrize("mode", MODES)
async def test_preview_then_confirm_then_replay(mode: str, server: MCPServer[Any], ledger: Ledger) -> None:
    contact = personal_contacts()[1]
    args = {"contact_id": contact["id"]}
    async with Client(server, mode=mode) as client:  # no elicitation_callback: cannot show a form
        first = await preview(client, "delete_contact", args)
        assert first["preview"]["who"]["sample"] == [{"name": contact["name"], "phone": contact["phone"]}]
        assert "nothing was done" in first["summary"].lower()
        assert mutations(ledger()) == []  # guard.preview-no-effect

        done = await call_ok(client, "delete_contact", {**args, "confirm_token": first["confirm_token"]})
        assert done["status"] == "ok" and done["data"]["deleted"] is True
        assert len(mutations(ledger())) == 1

        again = await call_ok(client, "delete_contact", {**args, "confirm_token": first["confirm_token"]})
        assert again["status"] == "replayed"
        assert again["data"] == done["data"]  # the first call's result, not a second request
        assert len(mutations(ledger())) == 1
        assert [e["method"] for e in ledger()].count("DELETE") == 1


async def test_changed_argument_is_refused(client: Client, ledger: Ledger) -> None:
    first, other = personal_contacts()[1:3]
    out = await preview(client, "delete_contact", {"contact_id": first["id"]})
    text = await call_error(
        client, "delete_contact", {"contact_id": other["id"], "confirm_token": out["confirm_token"]}
    )
    assert "different arguments" in text and "nothing was sent" in text
    assert mutations(ledger()) == []
    # the refused attempt did not burn the token: the previewed call still works, once
    done = await call_ok(client, "delete_contact", {"contact_id": first["id"], "confirm_token": out["confirm_token"]})
    assert done["status"] == "ok"
    assert [e["path"] for e in mutations(ledger())] == [f"/api/v1/contacts/{first['id']}"]


async def test_token_for_another_tool_is_refused(client: Client, ledger: Ledger) -> None:
    contact = personal_contacts()[1]
    out = await preview(client, "delete_contact", {"contact_id": contact["id"]})
    text = await call_error(
        client, "bulk_delete_contacts", {"contact_ids": [contact["id"]], "confirm_token": out["confirm_token"]}
    )
    assert "issued for delete_contact, not bulk_delete_contacts" in text
    assert mutations(ledger()) == []


async def test_token_for_another_workspace_is_refused(client: Client, ledger: Ledger) -> None:
    contact = team_contacts()[1]
    out = await preview(client, "delete_contact", {"contact_id": contact["id"], "workspace": "sandbox-team"})
    await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    # same arguments, workspace now implied by the active one instead of named: still another binding
    text = await call_error(
        client, "delete_contact", {"contact_id": contact["id"], "confirm_token": out["confirm_token"]}
    )
    assert "nothing was sent" in text
    text = await call_error(
        client,
        "delete_contact",
        {"contact_id": contact["id"], "workspace": "personal", "confirm_token": out["confirm_token"]},
    )
    assert "different arguments (or another workspace)" in text
    assert mutations(ledger()) == []


async def test_active_workspace_switch_invalidates_token(client: Client, ledger: Ledger) -> None:
    """Identical arguments, but the active workspace changed between preview and confirm: the plan
    differs, so nothing is sent and the new plan is put up for confirmation, saying what changed."""
    contact = personal_contacts()[1]
    out = await preview(client, "delete_contact", {"contact_id": contact["id"]})
    await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    result = await client.call_tool(
        "delete_contact", {"contact_id": contact["id"], "confirm_token": out["confirm_token"]}
    )
    if not result.is_error:  # the team may hold no such contact: then planning itself refuses
        again = result.structured_content
        assert again is not None and again["status"] == "confirmation_required"
        assert "workspace personal → sandbox-team" in again["preview"]["changes"]
        assert again["confirm_token"] != out["confirm_token"]
    assert mutations(ledger()) == []


async def test_token_of_another_connection_is_refused(server: MCPServer[Any], ledger: Ledger) -> None:
    """guard.principal: a token is bound to who asked (here: another in-memory connection)."""
    contact = personal_contacts()[1]
    async with Client(server) as alice:
        out = await preview(alice, "delete_contact", {"contact_id": contact["id"]})
    async with Client(server) as mallory:
        text = await call_error(
            mallory, "delete_contact", {"contact_id": contact["id"], "confirm_token": out["confirm_token"]}
        )
    assert "nothing was sent" in text
    assert mutations(ledger()) == []


async def test_unknown_token_is_refused(client: Client, ledger: Ledger) -> None:
    contact = personal_contacts()[1]
    text = await call_error(client, "delete_contact", {"contact_id": contact["id"], "confirm_token": "cfm_" + "A" * 32})
    assert "unknown or expired" in text
    assert mutations(ledger()) == []


async def test_expired_token_is_refused(server: MCPServer[Any], ledger: Ledger) -> None:
    clock = FakeClock()
    pin_guard(server, clock)
    contact = personal_contacts()[1]
    args = {"contact_id": contact["id"]}
    async with Client(server) as client:
        out = await preview(client, "delete_contact", args)
        clock.advance(TOKEN_TTL + 1)
        text = await call_error(client, "delete_contact", {**args, "confirm_token": out["confirm_token"]})
        assert "expired" in text and "nothing was sent" in text
        assert mutations(ledger()) == []
        # just inside the window still works
        fresh = await preview(client, "delete_contact", args)
        clock.advance(TOKEN_TTL - 1)
        done = await call_ok(client, "delete_contact", {**args, "confirm_token": fresh["confirm_token"]})
        assert done["status"] == "ok"
    assert len(mutations(ledger())) == 1


async def test_two_concurrent_uses_of_one_token_act_once(client: Client, ledger: Ledger) -> None:
    contact = personal_contacts()[1]
    args = {"contact_id": contact["id"]}
    out = await preview(client, "delete_contact", args)
    results: list[Any] = []

    async def use() -> None:
        results.append(await client.call_tool("delete_contact", {**args, "confirm_token": out["confirm_token"]}))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(use)
    acted = [r for r in results if not r.is_error and r.structured_content["status"] == "ok"]
    assert len(acted) == 1
    for r in results:  # every other use was refused or replayed the first result
        assert r.is_error or r.structured_content["status"] in ("ok", "replayed")
    assert len(mutations(ledger())) == 1
    assert [e["method"] for e in ledger()].count("DELETE") == 1


async def test_each_preview_mints_a_fresh_token(client: Client) -> None:
    contact = personal_contacts()[1]
    a = await preview(client, "delete_contact", {"contact_id": contact["id"]})
    b = await preview(client, "delete_contact", {"contact_id": contact["id"]})
    assert a["confirm_token"] != b["confirm_token"]
    assert a["preview"] == b["preview"]


# ---------------------------------------------------------------- modes


@pytest.mark.parametrize("mode", MODES)
async def test_confirm_token_mode_never_elicits(mode: str, sandbox_app: Any, ledger: Ledger) -> None:
    server = build_server(make_settings(confirm="token"), sandbox_app=sandbox_app)
    contact = personal_contacts()[1]
    elicitor = Elicitor("accept")
    async with Client(server, mode=mode, elicitation_callback=elicitor) as client:
        out = await preview(client, "delete_contact", {"contact_id": contact["id"]})
        assert mutations(ledger()) == []
        done = await call_ok(
            client, "delete_contact", {"contact_id": contact["id"], "confirm_token": out["confirm_token"]}
        )
    assert done["status"] == "ok"
    assert elicitor.messages == []
    assert len(mutations(ledger())) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_confirm_off_acts_immediately_and_says_so(mode: str, sandbox_app: Any, ledger: Ledger) -> None:
    server = build_server(make_settings(confirm="off"), sandbox_app=sandbox_app)
    assert server.instructions is not None
    assert "confirmation is OFF" in server.instructions
    contact = personal_contacts()[1]
    elicitor = Elicitor("decline")
    async with Client(server, mode=mode, elicitation_callback=elicitor) as client:
        assert "confirmation is OFF" in (client.instructions or "")
        out = await call_ok(client, "delete_contact", {"contact_id": contact["id"]})
    assert out["status"] == "ok"
    assert elicitor.messages == []
    assert len(mutations(ledger())) == 1


def test_default_instructions_explain_confirmation(server: MCPServer[Any]) -> None:
    assert server.instructions is not None
    assert "confirm_token" in server.instructions
    assert "OFF" not in server.instructions


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("delete_contact", {"contact_id": personal_contacts()[1]["id"]}),  # DELETE
        ("create_contact", {"name": "Jamais Créé", "phone": "+33698765400"}),  # WRITE
        ("update_contact", {"contact_id": personal_contacts()[2]["id"], "name": "Renamed"}),  # WRITE
    ],
)
async def test_dry_run_previews_every_mutation_and_sends_nothing(
    mode: str, tool: str, args: dict[str, Any], sandbox_app: Any, ledger: Ledger
) -> None:
    server = build_server(make_settings(dry_run=True), sandbox_app=sandbox_app)
    assert "DRY RUN" in (server.instructions or "")
    elicitor = Elicitor("accept")
    async with Client(server, mode=mode, elicitation_callback=elicitor) as client:
        out = await call_ok(client, tool, args)
        # a token is meaningless in dry-run: still nothing is sent
        again = (
            await call_ok(client, tool, {**args, "confirm_token": "cfm_whatever"}) if tool == "delete_contact" else out
        )
    assert out["status"] == again["status"] == "dry_run"
    assert out["preview"]["action"]
    assert "nothing was sent" in out["summary"].lower()
    assert "confirm_token" not in out
    assert elicitor.messages == []
    assert mutations(ledger()) == []
    assert not [e for e in ledger() if e["method"] != "GET"]
