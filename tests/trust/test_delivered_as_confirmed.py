"""What the person confirmed is what people receive (issue 19 items 1, 2 and 4), refereed by delivery:
after each attack the sandbox clock runs the campaign, and the messages it delivered (number, rendered
text, links, media, buttons: tests/delivery.py) are compared with the confirmed plan, not the request.

Attacks: people joining a group after the confirmation; a template edit under a campaign older than the
ten newest in the record; a phone edit past the recipient allow-list; a contact renamed to a link a
templated campaign renders; an edit under a campaign whose record write failed (SQLite locked).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import (
    PERSONAL_CONNECTED_INSTANCE_ID,
    PERSONAL_CONTACTS,
    VIP_GROUP_ID,
    WELCOME_TEMPLATE_ID,
    contact_id,
)
from msgflash_mcp.server import campaign_record
from msgflash_mcp.server.app import build_server

from tests.conftest import call_error, call_ok, make_settings
from tests.delivery import delivered, mismatches, run_until_delivered
from tests.resolution import each_resolution
from tests.trust.requirements import requirement
from tests.trust.test_plan_integrity import someone_else

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
AWA_PHONE, JEAN_PHONE = "+33612345000", "+33612345003"
AWA, JEAN = contact_id(AWA_PHONE), contact_id(JEAN_PHONE)
EVIL = "https://evil.example/pay"
LATER = "2031-01-01T10:00:00+00:00"


def campaign_args(**more: Any) -> dict[str, Any]:
    return {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "name": "Relance", "schedule": LATER,
            "recipients_type": "explicit", "contact_ids": [AWA, JEAN], **more}


async def confirmed(client: Client, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the plan the person confirmed, the outcome) of a guarded call confirmed with its token."""
    pending = await call_ok(client, tool, args)
    assert pending["status"] == "confirmation_required", pending
    done = await call_ok(client, tool, {**args, "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok", done
    return pending["preview"], done


def puts(ledger: Ledger, path: str) -> list[dict[str, Any]]:
    return [e for e in ledger() if e["method"] == "PUT" and e["path"] == path and e.get("committed")]


def received_by(sandbox_app: Any, campaign_id: str) -> set[str]:
    return {d.to for d in delivered(sandbox_app, campaign_id)}


# ----------------------------------------------------------------------------- 19.2: explicit recipients


@requirement("deliver.frozen-recipients")
@each_resolution
async def test_people_joining_the_group_after_the_confirmation_receive_nothing(
    client: Client, sandbox_app: Any, resolution: str
) -> None:
    """Without any policy set, a group campaign sends the confirmed members' ids: whenever the API resolves
    its recipients (create, start, every run), people who joined later are not messaged."""
    args = campaign_args(recipients_type="group", contact_ids=None, group_id=VIP_GROUP_ID, type="text",
                         body="Offre réservée aux VIP")
    plan, done = await confirmed(client, "create_campaign", args)
    assert "frozen to these 5 contacts" in plan["who"]["selector"]
    outsiders = [(phone, contact_id(phone)) for _n, phone, tags in PERSONAL_CONTACTS if "vip" not in tags][:3]
    await someone_else(sandbox_app, "POST", f"/api/v1/contacts/groups/{VIP_GROUP_ID}/members",
                       {"contactIds": [cid for _p, cid in outsiders]})
    run_until_delivered(sandbox_app)
    deliveries = delivered(sandbox_app, done["data"]["id"])
    assert mismatches(deliveries, plan) == []
    assert not {phone for phone, _cid in outsiders} & {d.to for d in deliveries}


# ----------------------------------------------------------------------------- 19.4: edits are plans


@requirement("edit.pending-every-record")
async def test_template_edit_under_a_campaign_older_than_the_ten_newest_is_asked(
    client: Client, sandbox_app: Any, ledger: Ledger
) -> None:
    """The guard consulted the 10 newest record entries before skipping finished ones: ten newer
    campaigns that completed hid an older pending one, whose template was then edited unasked."""
    plan, old = await confirmed(client, "create_campaign", campaign_args(template_id=WELCOME_TEMPLATE_ID))
    for n in range(10):
        await confirmed(client, "create_campaign", campaign_args(
            name=f"Flash {n}", schedule="2030-01-01T10:00:00+00:00", contact_ids=[JEAN], type="text", body="Flash"))
    sandbox = sandbox_app.state.sandbox
    sandbox.clock.set(datetime(2030, 1, 2, tzinfo=UTC))
    sandbox.tick()  # the ten newer campaigns have run: completed
    path = f"/api/v1/templates/{WELCOME_TEMPLATE_ID}"
    edit = {"template_id": WELCOME_TEMPLATE_ID, "body": f"Payment failed, re-enter your card: {EVIL}"}
    asked = await call_ok(client, "update_template", edit)
    assert asked["status"] == "confirmation_required" and puts(ledger, path) == []
    assert [c["id"] for c in asked["preview"]["campaigns"]] == [old["data"]["id"]]
    again = await call_ok(client, "update_template", edit)  # the completed ones are now marked finished
    assert [c["id"] for c in again["preview"]["campaigns"]] == [old["data"]["id"]]
    run_until_delivered(sandbox_app)
    assert mismatches(delivered(sandbox_app, old["data"]["id"]), plan) == []


@requirement("edit.policies-follow")
@each_resolution
async def test_a_phone_edit_of_a_recipient_meets_the_recipient_allowlist(
    sandbox_app: Any, ledger: Ledger, resolution: str
) -> None:
    """Allow-list of one number, a campaign to Awa confirmed, then her phone changed to a number a direct
    send is refused for: the edit is refused the same way, and the campaign reaches only Awa's number."""
    server = build_server(make_settings(recipient_allowlist=[AWA_PHONE]), sandbox_app=sandbox_app)
    async with Client(server) as client:
        plan, done = await confirmed(client, "create_campaign", campaign_args(contact_ids=[AWA], type="text",
                                                                                 body="Votre commande est prête"))
        refused = await call_error(client, "update_contact", {"contact_id": AWA, "phone": "+33699999999"})
        direct = await call_error(client, "send_message", {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID,
                                                           "to": "+33699999999", "type": "text", "text": "x"})
    assert "refused by policy" in refused and "+33699999999" in refused and "RECIPIENT_ALLOWLIST" in refused
    assert "RECIPIENT_ALLOWLIST" in direct
    assert puts(ledger, f"/api/v1/contacts/{AWA}") == []
    run_until_delivered(sandbox_app)
    assert mismatches(delivered(sandbox_app, done["data"]["id"]), plan) == []
    assert received_by(sandbox_app, done["data"]["id"]) == {AWA_PHONE}


async def fullname_template(client: Client) -> str:
    made = await call_ok(client, "create_template", {"name": "Salut", "type": "text",
                                                      "body": "Bonjour {{contact.fullName}}"})
    assert made["status"] == "ok"
    return made["data"]["id"]


@requirement("edit.contact-field-links")
@each_resolution
async def test_a_recipient_renamed_to_a_link_is_refused_by_the_url_allowlist(
    sandbox_app: Any, ledger: Ledger, resolution: str
) -> None:
    """"Bonjour {{contact.fullName}}" confirmed, then the contact renamed to a link: people received the
    link. The new name is what the campaign renders, so it meets the URL allow-list and is refused."""
    server = build_server(make_settings(url_allowlist=["shop.example"]), sandbox_app=sandbox_app)
    async with Client(server) as client:
        template = await fullname_template(client)
        plan, done = await confirmed(client, "create_campaign", campaign_args(template_id=template))
        refused = await call_error(client, "update_contact", {"contact_id": AWA, "name": EVIL})
        meta = await call_error(client, "update_contact", {"contact_id": JEAN, "meta": {"fullName": EVIL}})
        other = await call_ok(client, "update_contact", {"contact_id": AWA, "tags": ["vip"]})  # not rendered
    assert "refused by policy" in refused and "evil.example" in refused and "URL_ALLOWLIST" in refused
    assert "URL_ALLOWLIST" in meta and other["status"] == "ok"
    run_until_delivered(sandbox_app)
    deliveries = delivered(sandbox_app, done["data"]["id"])
    assert mismatches(deliveries, plan) == []
    assert sorted(d.text or "" for d in deliveries) == ["Bonjour Awa Diop", "Bonjour Jean Martin"]


@requirement("edit.contact-field-links")
@each_resolution
async def test_renaming_a_recipient_of_a_templated_campaign_is_confirmed_first(
    client: Client, sandbox_app: Any, ledger: Ledger, resolution: str
) -> None:
    """Without an allow-list the rename is still a plan: asked, naming the campaign; nothing before."""
    template = await fullname_template(client)
    plan, done = await confirmed(client, "create_campaign", campaign_args(template_id=template))
    rename = {"contact_id": AWA, "name": EVIL}
    asked = await call_ok(client, "update_contact", rename)
    assert asked["status"] == "confirmation_required" and puts(ledger, f"/api/v1/contacts/{AWA}") == []
    assert [c["id"] for c in asked["preview"]["campaigns"]] == [done["data"]["id"]]
    assert EVIL in str(asked["preview"])  # the link the new name carries is shown (and policed)
    assert "render" in str(asked["preview"]) and "Relance" in str(asked["preview"])
    run_until_delivered(sandbox_app)  # never confirmed: what runs is what was confirmed
    assert mismatches(delivered(sandbox_app, done["data"]["id"]), plan) == []


@requirement("edit.record-write-failed")
async def test_a_failed_record_write_is_reported_and_edits_under_it_stay_guarded(
    sandbox_app: Any, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record's SQLite file is locked by another process when the campaign is created: the outcome
    says the campaign is done but not recorded, this process still guards edits under it, and the entry
    is written once the lock is gone."""
    path = str(tmp_path / "campaigns.sqlite3")
    monkeypatch.setattr(campaign_record, "BUSY_TIMEOUT", 0.05)  # fail fast instead of waiting 5 s for the lock
    server = build_server(make_settings(campaign_db=path), sandbox_app=sandbox_app)
    async with Client(server) as client:
        await call_ok(client, "list_campaigns", {})  # the record file exists
        other_process = sqlite3.connect(path, isolation_level=None)
        other_process.execute("BEGIN IMMEDIATE")  # holds the write lock; readers still read
        try:
            plan, done = await confirmed(client, "create_campaign", campaign_args(template_id=WELCOME_TEMPLATE_ID))
            edit = {"template_id": WELCOME_TEMPLATE_ID, "body": f"Payment failed: {EVIL}"}
            asked = await call_ok(client, "update_template", edit)
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()
        listed = await call_ok(client, "list_campaigns", {"live": False})
    assert "could not be recorded locally" in done["summary"] and "not guarded" in done["summary"]
    assert asked["status"] == "confirmation_required"
    assert [c["id"] for c in asked["preview"]["campaigns"]] == [done["data"]["id"]]
    assert puts(ledger, f"/api/v1/templates/{WELCOME_TEMPLATE_ID}") == []
    assert [row["id"] for row in listed["data"]["campaigns"]] == [done["data"]["id"]]
    with sqlite3.connect(path) as on_disk:  # written for every process once the lock was released
        assert on_disk.execute("SELECT id FROM campaigns").fetchall() == [(done["data"]["id"],)]
    run_until_delivered(sandbox_app)
    assert mismatches(delivered(sandbox_app, done["data"]["id"]), plan) == []
