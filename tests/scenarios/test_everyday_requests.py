"""A dozen everyday requests, each scripted as the shortest tool path a model would take, with a
call budget and the final state checked in the sandbox.

The conversation is assumed to be under way: the model already knows the account's instances and
any id the user named (one list_instances earlier in the conversation is not charged to every
request). Confirmations use the token path (MSGFLASH_CONFIRM=token), so each confirmation is a
counted call. A test fails when a change makes its path longer than the budget: the budgets are the
contract, the scripts document the intended path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from msgflash_mcp.sandbox import lifecycle, quotas
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.keys import TEAM_ID, TEAM_NAME
from msgflash_mcp.sandbox.util import iso

from tests.resolution import each_resolution

from .conftest import Ledger, SandboxState, Session

pytestmark = pytest.mark.anyio
INSTANCE = S.PERSONAL_CONNECTED_INSTANCE_ID
AWA = "+33612345000"


def committed(ledger: Ledger, method: str, path: str) -> list[dict[str, Any]]:
    return [e for e in ledger() if e["method"] == method and e["path"] == path and e["committed"]]


# ------------------------------------------------------------------------------------------ reads


async def test_usage_and_limits_in_one_call(session: Session, state: SandboxState) -> None:
    """"How much of my plan have I used this month?" -> get_usage."""
    result = await session.call("get_usage")
    session.within(1)
    usage = quotas.usage_block(state.db, S.USER_ID, state.now())
    limits = quotas.limits(state.db)
    summary = result["summary"]
    for used, limit in ((usage["effectiveOutboundUsage"], limits["monthlyOutboundQuota"]),
                        (usage["apiRequestsCount"], limits["monthlyApiRequestQuota"])):
        assert f"{used}" in summary and f"{limit}" in summary, summary
    assert "%" in summary


async def test_usage_near_its_limit_is_flagged_in_one_call(session: Session, state: SandboxState) -> None:
    """"Am I about to run out of messages?" -> get_usage says which quota is near its limit."""
    quotas.set_usage(state.db, S.USER_ID, state.now(), {"messages": 4200, "statuses": 0})
    result = await session.call("get_usage")
    session.within(1)
    summary = result["summary"]
    assert "4200/5000 (84%)" in summary
    assert "near limit" in summary and "none near" not in summary


async def test_failed_messages_in_one_call(session: Session, state: SandboxState) -> None:
    """"Which messages failed?" -> list_messages(status=failed)."""
    result = await session.call("list_messages", {"status": "failed"})
    session.within(1)
    listed = {m["id"] for m in result["data"]["messages"]}
    assert listed == {m["id"] for m in state.messages() if m["status"] == "failed"}
    assert any(m["to"] == "+33612345013" for m in result["data"]["messages"])


async def test_messages_people_sent_me_in_one_call(session: Session, state: SandboxState) -> None:
    """"Did anyone write to us?" -> list_messages; inbound bodies are third-party text."""
    result = await session.call("list_messages", {"limit": 100})
    session.within(1)
    inbound = [m for m in result["data"]["messages"] if m["direction"] == "inbound"]
    assert {m["id"] for m in inbound} == {m["id"] for m in state.messages() if m["direction"] == "inbound"}
    assert result.get("note")


async def test_team_versus_personal_in_two_calls(session: Session, ledger: Ledger) -> None:
    """"How many contacts do I have, and how many does the sales team have?" -> list_contacts twice."""
    mine = await session.call("list_contacts")
    team = await session.call("list_contacts", {"workspace": TEAM_NAME})
    session.within(2)
    assert mine["data"]["total"] == len(S.PERSONAL_CONTACTS) and team["data"]["total"] == len(S.TEAM_CONTACTS)
    assert mine["workspace"] != team["workspace"]
    reads = [e for e in ledger() if e["path"] == "/api/v1/contacts"]
    assert [(e["key_kind"], e["team_id"]) for e in reads] == [("personal", None), ("team", TEAM_ID)]


# ------------------------------------------------------------------------------------------ writes


async def test_contact_with_tag_in_a_new_group_in_three_calls(session: Session, state: SandboxState) -> None:
    """"Add Léa Morel, +33 6 12 34 56 78, tagged test, to a new group Testeurs." """
    contact = await session.call("create_contact", {"name": "Léa Morel", "phone": "+33612345678", "tags": ["test"]})
    group = await session.call("create_group", {"name": "Testeurs"})
    await session.call("add_group_members", {"group_id": group["data"]["id"], "contact_ids": [contact["data"]["id"]]})
    session.within(3)
    stored = state.contact_by_phone(S.USER_ID, "+33612345678")
    assert stored is not None and stored["name"] == "Léa Morel" and stored["tags"] == ["test"]
    assert state.group_members(group["data"]["id"]) == [stored["id"]]


async def test_send_with_confirmation_in_two_calls(session: Session, state: SandboxState, ledger: Ledger) -> None:
    """"Tell Awa her order is ready." -> send_message, preview, confirm."""
    args = {"instance_id": INSTANCE, "to": AWA, "type": "text", "text": "Bonjour Awa, votre commande est prête."}
    preview, _ = await session.confirmed("send_message", args)
    session.within(2)
    assert "votre commande est prête" in str(preview["preview"])
    sends = committed(ledger, "POST", "/api/v1/messages/send")
    assert len(sends) == 1
    sent = state.message(sends[0]["object_id"])
    assert (sent["to"], sent["body"], sent["direction"]) == (AWA, args["text"], "outbound")


def paris_nine_tomorrow(state: SandboxState) -> datetime:
    paris = ZoneInfo("Europe/Paris")
    tomorrow = (state.clock.now().astimezone(paris) + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, 0, tzinfo=paris)


def reminder(local: datetime) -> dict[str, Any]:
    return {"instance_id": INSTANCE, "to": AWA, "type": "text", "text": "Rappel : rendez-vous demain.",
            "scheduled_at": local.isoformat()}


async def test_schedule_in_local_time_in_two_calls(session: Session, state: SandboxState, ledger: Ledger) -> None:
    """"Remind Awa tomorrow at 9:00 Paris time." -> schedule_message with the local time, confirm."""
    local = paris_nine_tomorrow(state)
    await session.confirmed("schedule_message", reminder(local))
    session.within(2)
    scheduled = state.message(committed(ledger, "POST", "/api/v1/messages/schedule")[0]["object_id"])
    assert (scheduled["status"], scheduled["scheduledAt"]) == ("scheduled", iso(local.timestamp()))


@each_resolution
async def test_template_campaign_in_three_calls(
    session: Session, state: SandboxState, ledger: Ledger, resolution: str
) -> None:
    """"Send the promo-code template to my VIPs in an hour, code VIP10." -> find it, preview, confirm."""
    templates = await session.call("list_templates")
    promo = next(t for t in templates["data"]["templates"] if t["name"] == "Code promo")
    start = (state.clock.now() + timedelta(hours=1)).isoformat()
    args = {"instance_id": INSTANCE, "name": "Promo VIP", "schedule": start, "recipients_type": "tags",
            "tags": ["vip"], "template_id": promo["id"], "variables": {"code": "VIP10"}}
    preview, _ = await session.confirmed("create_campaign", args)
    session.within(3)
    assert "VIP10" in str(preview["preview"])  # a rendered sample, not the raw template
    camp = state.campaign(committed(ledger, "POST", "/api/v1/campaigns")[0]["object_id"])
    vips = [p for _, p, tags in S.PERSONAL_CONTACTS if "vip" in tags]
    assert (camp["templateId"], camp["recipients"]["type"], camp["status"]) == (promo["id"], "explicit", "scheduled")
    assert set(camp["recipients"]["value"]) == {S.contact_id(p) for p in vips}  # the tag resolved in the plan
    assert camp["stats"]["planned"] == (len(vips) if resolution == "create" else 0)  # else resolved at its start
    state.clock.advance(3_600)
    started = await session.call("get_campaign_stats", {"campaign_id": camp["id"]})
    assert started["data"]["stats"]["planned"] == len(vips)  # started: resolved under every setting


@each_resolution
async def test_pause_stats_resume_in_four_calls(session: Session, state: SandboxState) -> None:
    """"Pause the summer launch, show me where it stands, then resume it." (the user gave its id)"""
    cid = S.SCHEDULED_CAMPAIGN_ID
    await session.call("pause_campaign", {"campaign_id": cid})
    assert state.campaign(cid)["status"] == "paused"
    stats = await session.call("get_campaign_stats", {"campaign_id": cid})
    assert stats["data"]["stats"]["planned"] == state.campaign(cid)["stats"]["planned"]
    await session.confirmed("resume_campaign", {"campaign_id": cid})
    session.within(4)
    assert state.campaign(cid)["status"] == "scheduled"  # resumed before its start: waits for it


async def test_pause_a_campaign_created_earlier_in_two_calls(session: Session, state: SandboxState) -> None:
    """"Pause the flash-sale campaign I set up this morning." (no id) -> list_campaigns, pause_campaign."""
    start = (state.clock.now() + timedelta(days=1)).isoformat()
    for name in ("Vente flash", "Relance leads"):  # earlier in the conversation, not charged here
        await session.confirmed("create_campaign", {"instance_id": INSTANCE, "name": name, "schedule": start,
                                                    "recipients_type": "tags", "tags": ["vip"], "type": "text",
                                                    "body": name})
    session.calls.clear()
    listed = await session.call("list_campaigns")
    flash = next(c for c in listed["data"]["campaigns"] if c["name"] == "Vente flash")
    await session.call("pause_campaign", {"campaign_id": flash["id"]})
    session.within(2)
    assert state.campaign(flash["id"])["status"] == "paused"
    others = [c for c in listed["data"]["campaigns"] if c["id"] != flash["id"]]
    assert [state.campaign(c["id"])["status"] for c in others] == ["scheduled"]


async def test_delete_contacts_tagged_in_two_calls(session: Session, state: SandboxState) -> None:
    """"Delete every contact tagged lead." -> bulk_delete_contacts(tags), preview naming who, confirm.
    (Issue 13 allows 3 calls; the tag selector makes it 2, and this keeps it there.)"""
    preview, _ = await session.confirmed("bulk_delete_contacts", {"tags": ["lead"]})
    session.within(2)
    leads = [name for name, _, tags in S.PERSONAL_CONTACTS if "lead" in tags]
    assert f"Delete {len(leads)} contact" in preview["preview"]["action"]
    assert sum(name in str(preview["preview"]) for name in leads) >= 3  # the person sees who goes
    remaining = state.contacts(S.USER_ID)
    assert not [c for c in remaining if "lead" in c["tags"]]
    assert len(remaining) == len(S.PERSONAL_CONTACTS) - len(leads)


async def test_webhook_in_two_calls(session: Session, state: SandboxState) -> None:
    """"Send incoming messages to https://crm.example.com/hooks/whatsapp." -> create_webhook, confirm."""
    url = "https://crm.example.com/hooks/whatsapp"
    _, done = await session.confirmed("create_webhook", {"url": url, "events": ["message.received"]})
    session.within(2)
    hooks = [h for h in state.rows("webhooks", S.USER_ID) if h["url"] == url]
    assert len(hooks) == 1 and hooks[0]["events"] == ["message.received"]
    assert done["data"]["secret"]  # shown once, so the user can verify signatures


async def test_status_in_two_calls(session: Session, state: SandboxState, ledger: Ledger) -> None:
    """"Post a status: we are open on Sunday." -> publish_status, confirm."""
    before = quotas.usage(state.db, S.USER_ID, state.now())["statuses"]
    await session.confirmed("publish_status", {"instance_id": INSTANCE, "type": "text", "content": "Ouvert dimanche !"})
    session.within(2)
    assert len(committed(ledger, "POST", "/api/v1/statuses")) == 1
    assert quotas.usage(state.db, S.USER_ID, state.now())["statuses"] == before + 1


async def test_number_lookup_then_import_in_three_calls(session: Session, state: SandboxState) -> None:
    """"Which of these numbers are on WhatsApp? Add those as contacts tagged prospect." """
    numbers = ["+33612349990", "+33612349991", "+33612349992"]
    lookup = await session.call("start_number_lookup", {"instance_id": INSTANCE, "numbers": numbers})
    lookup_id = lookup["data"].get("lookupId") or lookup["data"].get("id")
    await session.call("import_lookup_contacts", {"lookup_id": lookup_id, "tag": "prospect"})
    session.within(3)
    on_whatsapp = [n for n in numbers if lifecycle.on_whatsapp(n)]
    for number in numbers:
        stored = state.contact_by_phone(S.USER_ID, number)
        assert (stored is not None) == (number in on_whatsapp), number
        assert stored is None or stored["tags"] == ["prospect"]
