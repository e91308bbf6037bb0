"""Edits that would change what a still-pending campaign sends are confirmed actions (issue 11 part 3):
a template's content, a recipient's phone. The preview names the campaigns (from this server's local
record) and their recipient counts; the sandbox ledger shows no write before the confirmation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, WELCOME_TEMPLATE_ID, contact_id

from tests.conftest import call_error, call_ok
from tests.resolution import each_resolution

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
AWA, MOUSSA = contact_id("+33612345000"), contact_id("+33612345001")


async def campaign_for(client: Client, **content: Any) -> dict[str, Any]:
    args = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "name": "Relance", "schedule": "2031-01-01T10:00:00+00:00",
            "recipients_type": "explicit", "contact_ids": [AWA, contact_id("+33612345003")], **content}
    pending = await call_ok(client, "create_campaign", args)
    done = await call_ok(client, "create_campaign", {**args, "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok"
    return done["data"]


def puts(ledger: Ledger, path: str) -> list[dict[str, Any]]:
    return [e for e in ledger() if e["method"] == "PUT" and e["path"] == path]


async def test_template_edit_without_pending_campaigns_is_not_asked(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "update_template", {"template_id": WELCOME_TEMPLATE_ID, "body": "Salut !"})
    assert out["status"] == "ok" and len(puts(ledger, f"/api/v1/templates/{WELCOME_TEMPLATE_ID}")) == 1


@each_resolution
async def test_template_content_edit_under_a_pending_campaign_is_confirmed(
    client: Client, ledger: Ledger, resolution: str
) -> None:
    made = await campaign_for(client, template_id=WELCOME_TEMPLATE_ID)
    path = f"/api/v1/templates/{WELCOME_TEMPLATE_ID}"
    args = {"template_id": WELCOME_TEMPLATE_ID, "body": "Cliquez vite sur https://shop.example/x"}
    pending = await call_ok(client, "update_template", args)
    assert pending["status"] == "confirmation_required" and puts(ledger, path) == []
    campaigns = pending["preview"]["campaigns"]
    # Resolved at creation, the API's count; else the people the selector reaches now, said so.
    later = {} if resolution == "create" else {"resolved": "people now in the selection; resolved when it starts"}
    assert campaigns == [{"id": made["id"], "name": "Relance", "status": "scheduled", "recipients": 2, **later}]
    line = '"Relance" (scheduled, 2 recipients' + (f"; {later['resolved']})" if later else ")")
    assert any(line in w for w in pending["preview"]["risk"])
    done = await call_ok(client, "update_template", {**args, "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok" and len(puts(ledger, path)) == 1
    # renaming changes nothing a campaign sends: not asked
    renamed = await call_ok(client, "update_template", {"template_id": WELCOME_TEMPLATE_ID, "name": "Accueil"})
    assert renamed["status"] == "ok" and len(puts(ledger, path)) == 2


async def test_confirmed_template_edit_sends_the_planned_put(client: Client, ledger: Ledger) -> None:
    """The confirmed PUT is the plan's: this template's path, only the previewed field, the previewed text."""
    await campaign_for(client, template_id=WELCOME_TEMPLATE_ID)
    path = f"/api/v1/templates/{WELCOME_TEMPLATE_ID}"
    args = {"template_id": WELCOME_TEMPLATE_ID, "body": "Salut {{contact.firstName}}, rendez-vous demain"}
    pending = await call_ok(client, "update_template", args)
    assert pending["preview"]["fields"] == ["body"] and pending["preview"]["id"] == WELCOME_TEMPLATE_ID
    await call_ok(client, "update_template", {**args, "confirm_token": pending["confirm_token"]})
    [put] = puts(ledger, path)
    assert put["committed"] and put["key_kind"] == "personal"
    template = (await call_ok(client, "get_template", {"template_id": WELCOME_TEMPLATE_ID}))["data"]
    assert template["body"] == args["body"] and template["name"] == "Bienvenue"  # the name was not in the plan


@each_resolution
async def test_template_delete_preview_names_the_pending_campaigns(client: Client) -> None:
    await campaign_for(client, template_id=WELCOME_TEMPLATE_ID)
    pending = await call_ok(client, "delete_template", {"template_id": WELCOME_TEMPLATE_ID})
    assert pending["status"] == "confirmation_required"
    assert [c["name"] for c in pending["preview"]["campaigns"]] == ["Relance"]
    assert any("refuses the delete (409 CONFLICT)" in w and "2 recipients" in w for w in pending["preview"]["risk"])
    refused = await call_error(client, "delete_template", {"template_id": WELCOME_TEMPLATE_ID,
                                                           "confirm_token": pending["confirm_token"]})
    assert "409 CONFLICT" in refused  # what the preview said: the template stays
    assert (await call_ok(client, "get_template", {"template_id": WELCOME_TEMPLATE_ID}))["data"]["id"]


@each_resolution
async def test_new_phone_of_a_campaign_recipient_is_confirmed(client: Client, ledger: Ledger) -> None:
    await campaign_for(client, type="text", body="Promo")
    pending = await call_ok(client, "update_contact", {"contact_id": AWA, "phone": "+33612340999"})
    assert pending["status"] == "confirmation_required" and puts(ledger, f"/api/v1/contacts/{AWA}") == []
    assert pending["preview"]["action"] == 'Change the phone of "Awa Diop" (+33612345000) to +33612340999'
    assert pending["preview"]["campaigns"][0]["recipients"] == 2
    start = len(ledger())
    done = await call_ok(client, "update_contact",
                         {"contact_id": AWA, "phone": "+33612340999", "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok" and len(puts(ledger, f"/api/v1/contacts/{AWA}")) == 1
    # the confirmed call re-reads only to re-plan, then sends the planned PUT: the phone confirmed
    assert [e["method"] for e in ledger()[start:] if e["method"] != "GET"] == ["PUT"]
    assert done["data"]["phone"] == "+33612340999"
    # not a recipient, or not a phone change: not asked
    other = await call_ok(client, "update_contact", {"contact_id": MOUSSA, "phone": "+33612340998"})
    tags = await call_ok(client, "update_contact", {"contact_id": AWA, "tags": ["vip"]})
    assert other["status"] == "ok" and tags["status"] == "ok"


async def test_a_campaign_that_starts_using_the_template_after_the_preview_makes_the_edit_ask_again(
    client: Client, ledger: Ledger
) -> None:
    """The pending campaigns an edit changes are part of what is confirmed: one more since the preview
    means nothing is written and the person is asked again, naming both."""
    await campaign_for(client, template_id=WELCOME_TEMPLATE_ID)
    path = f"/api/v1/templates/{WELCOME_TEMPLATE_ID}"
    args = {"template_id": WELCOME_TEMPLATE_ID, "body": "Nouveau texte"}
    pending = await call_ok(client, "update_template", args)
    assert len(pending["preview"]["campaigns"]) == 1
    await campaign_for(client, template_id=WELCOME_TEMPLATE_ID, name="Relance 2")
    again = await call_ok(client, "update_template", {**args, "confirm_token": pending["confirm_token"]})
    assert again["status"] == "confirmation_required" and puts(ledger, path) == []
    assert "pending campaigns affected 1 → 2" in again["preview"]["changes"]
    assert sorted(c["name"] for c in again["preview"]["campaigns"]) == ["Relance", "Relance 2"]
    done = await call_ok(client, "update_template", {**args, "confirm_token": again["confirm_token"]})
    assert done["status"] == "ok" and len(puts(ledger, path)) == 1
