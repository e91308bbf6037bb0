"""Opt-outs (server/opt_outs.py, tools/opt_outs.py): the list per workspace, filled from inbound STOP messages
and by the tools, honoured by every sending plan; the store on SQLite and on Redis."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.opt_outs import OptOut, RedisOptOuts, SqliteOptOuts

from tests.conftest import call_error, call_ok, make_settings
from tests.opt_outs import seeded_opt_outs
from tests.redis_server import redis_url  # noqa: F401
from tests.sandbox.helpers import client_for

pytestmark = pytest.mark.anyio

INSTANCE = S.PERSONAL_CONNECTED_INSTANCE_ID
JEAN = "+33612345003"  # a VIP
AWA = "+33612345000"
SEEDED = seeded_opt_outs()  # the seed's one STOP (sandbox/seed.py OPT_OUT_SENDER)


async def listed_phones(client: Client) -> set[str]:
    return {row["phone"] for row in (await call_ok(client, "list_opt_outs"))["data"]["opt_outs"]}


async def write_inbound(app: Any, sender: str, body: str, instance: str = INSTANCE) -> None:
    """Someone writes to a business number (the sandbox's control surface)."""
    async with client_for(app) as sandbox:
        answer = await sandbox.post("/_sandbox/inbound", json={"instanceId": instance, "from": sender, "body": body})
    assert answer.status_code == 201, answer.text


async def test_sqlite_store_keeps_one_entry_per_number_and_workspace(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "campaigns.sqlite3")
    store = SqliteOptOuts(path)
    assert await store.add("personal", OptOut(JEAN, 2.0, "inbound", word="STOP", message_id="m1"))
    assert not await store.add("personal", OptOut(JEAN, 3.0, "added"))  # the first entry stays
    assert await store.add("personal", OptOut(AWA, 1.0, "added", note="asked by phone"))
    assert await store.add("acme", OptOut(JEAN, 1.0, "added"))
    await store.set_mark("personal", "2026-01-01T00:00:00.000Z")
    await store.close()
    reopened = SqliteOptOuts(path)  # durable: a restart keeps it
    assert [(e.phone, e.source) for e in await reopened.list("personal")] == [(AWA, "added"), (JEAN, "inbound")]
    assert await reopened.mark("personal") == "2026-01-01T00:00:00.000Z" and await reopened.mark("acme") is None
    assert await reopened.remove("personal", JEAN) and not await reopened.remove("personal", JEAN)
    assert [e.phone for e in await reopened.list("acme")] == [JEAN]
    await reopened.close()


@pytest.mark.redis
async def test_two_runtimes_on_one_redis_share_the_list(redis_url: str, sandbox_app: Any) -> None:  # noqa: F811
    """Two replicas: one records an opt-out, the other leaves that number out of its send."""
    import redis.asyncio as aioredis

    raw = aioredis.from_url(redis_url)
    try:
        for key in await raw.keys("msgflash:sandbox-opt-outs:*"):
            await raw.delete(key)
    finally:
        await raw.aclose()
    settings = make_settings(redis_url=redis_url)
    one, two = build_server(settings, sandbox_app=sandbox_app), build_server(settings, sandbox_app=sandbox_app)
    async with Client(one) as first, Client(two) as second:
        await call_ok(first, "add_opt_out", {"phone": AWA, "note": "asked in the shop"})
        await write_inbound(sandbox_app, JEAN, "STOP")
        listed = await call_ok(second, "list_opt_outs")  # the second replica scans and records Jean's STOP
        rows = {(r["phone"], r["source"]) for r in listed["data"]["opt_outs"]}
        assert rows == {(AWA, "added"), (JEAN, "inbound")} | {(phone, "inbound") for phone in SEEDED}
        again = await call_ok(first, "list_opt_outs")
        assert [r["phone"] for r in again["data"]["opt_outs"]] == [r["phone"] for r in listed["data"]["opt_outs"]]
        refused = await call_error(first, "send_message", {"instance_id": INSTANCE, "to": JEAN, "type": "text",
                                                           "text": "Hello"})
        assert "opted out" in refused
    third = aioredis.from_url(redis_url)
    try:  # the store itself, as a third replica reads it
        listed_there = await RedisOptOuts(third, "msgflash:sandbox-opt-outs:").list("personal")
    finally:
        await third.aclose()
    assert {e.phone for e in listed_there} == {AWA, JEAN, *SEEDED}


async def test_an_inbound_stop_is_listed_with_where_it_came_from(client: Client, sandbox_app: Any) -> None:
    await write_inbound(sandbox_app, JEAN, "Stop!")
    await write_inbound(sandbox_app, AWA, "Stop by the shop on Saturday?")  # a sentence, not an opt-out
    listed = await call_ok(client, "list_opt_outs")
    rows = [r for r in listed["data"]["opt_outs"] if r["phone"] not in SEEDED]
    assert [(r["phone"], r["source"], r["word"]) for r in rows] == [(JEAN, "inbound", "Stop!")]
    assert rows[0]["message_id"] and listed["data"]["complete"] is True
    assert f"{len(SEEDED) + 1} opted-out number(s)" in listed["summary"]


async def test_a_scan_reads_only_what_arrived_since_the_last(client: Client, sandbox_app: Any, ledger: Any) -> None:
    await call_ok(client, "list_opt_outs")
    before = len(ledger())
    await call_ok(client, "list_opt_outs")
    reads = [e for e in ledger()[before:] if e["path"] == "/api/v1/messages"]
    assert len(reads) == 1  # one page, stopped at the mark


async def test_direct_send_to_an_opted_out_number_is_refused_unless_overridden(
    client: Client, sandbox_app: Any, ledger: Any
) -> None:
    await write_inbound(sandbox_app, JEAN, "STOP")
    args = {"instance_id": INSTANCE, "to": JEAN, "type": "text", "text": "Votre commande est prête"}
    refused = await call_error(client, "send_message", args)
    assert "opted out" in refused and "override_opt_out=true" in refused and "nothing was sent" in refused
    refused_later = await call_error(client, "schedule_message", {
        **args, "scheduled_at": (sandbox_app.state.sandbox.clock.now() + timedelta(hours=1)).isoformat()})
    assert "opted out" in refused_later
    first = await call_ok(client, "send_message", {**args, "override_opt_out": True})
    assert first["status"] == "confirmation_required"
    risk = " ".join(first["preview"]["risk"])
    assert f"{JEAN} (wrote STOP on" in risk and "messaged anyway (override_opt_out)" in risk
    sent = await call_ok(client, "send_message", {**args, "override_opt_out": True, "confirm_token": first["confirm_token"]})
    assert sent["status"] == "ok"
    posts = [e for e in ledger() if e["path"] == "/api/v1/messages/send" and e["committed"]]
    assert len(posts) == 1  # only the confirmed override sent


async def test_an_opt_out_between_preview_and_confirmation_changes_the_plan(client: Client, sandbox_app: Any) -> None:
    args = {"instance_id": INSTANCE, "to": JEAN, "type": "text", "text": "Hello"}
    first = await call_ok(client, "send_message", args)
    await write_inbound(sandbox_app, JEAN, "STOP")
    refused = await call_error(client, "send_message", {**args, "confirm_token": first["confirm_token"]})
    assert "opted out" in refused and "nothing was sent" in refused


async def test_add_is_a_write_and_remove_needs_a_confirmation(client: Client) -> None:
    added = await call_ok(client, "add_opt_out", {"phone": AWA})
    assert added["status"] == "ok" and "opted out" in added["summary"]
    again = await call_ok(client, "add_opt_out", {"phone": AWA})
    assert "already" in again["summary"]
    asked = await call_ok(client, "remove_opt_out", {"phone": AWA})
    assert asked["status"] == "confirmation_required"
    assert "messages may reach them again" in asked["preview"]["action"]
    assert AWA in await listed_phones(client)  # nothing removed yet
    done = await call_ok(client, "remove_opt_out", {"phone": AWA, "confirm_token": asked["confirm_token"]})
    assert done["status"] == "ok" and done["data"] == {"phone": AWA, "removed": True}
    assert await listed_phones(client) == SEEDED
    missing = await call_error(client, "remove_opt_out", {"phone": AWA})
    assert "not on the opt-out list" in missing


async def test_a_removed_inbound_opt_out_is_not_added_back_by_the_next_scan(client: Client, sandbox_app: Any) -> None:
    await write_inbound(sandbox_app, JEAN, "STOP")
    asked = await call_ok(client, "remove_opt_out", {"phone": JEAN})
    await call_ok(client, "remove_opt_out", {"phone": JEAN, "confirm_token": asked["confirm_token"]})
    assert await listed_phones(client) == SEEDED
    await write_inbound(sandbox_app, JEAN, "STOP")  # a new STOP counts again
    assert await listed_phones(client) == {JEAN, *SEEDED}


async def test_a_campaign_preview_leaves_opted_out_members_out(client: Client, sandbox_app: Any) -> None:
    await write_inbound(sandbox_app, JEAN, "STOP")
    await call_ok(client, "add_opt_out", {"phone": AWA})
    start = (sandbox_app.state.sandbox.clock.now() + timedelta(hours=1)).isoformat()
    args = {"instance_id": INSTANCE, "name": "VIP", "schedule": start, "recipients_type": "group",
            "group_id": S.VIP_GROUP_ID, "type": "text", "body": "Soldes privées"}
    preview = (await call_ok(client, "create_campaign", args))["preview"]
    vips = [phone for _, phone, tags in S.PERSONAL_CONTACTS if "vip" in tags]
    out = {JEAN, AWA} | (SEEDED & set(vips))
    assert preview["who"]["count"] == len(vips) - len(out)
    assert f"{len(out)} opted out left out" in preview["who"]["selector"]
    [line] = [line for line in preview["risk"] if "opted out, left out: " in line]
    assert line.startswith(f"{len(out)} opted out, left out: ") and all(phone in line for phone in out)
    assert all(s["phone"] not in out for s in preview["who"]["sample"])


async def test_an_opt_out_after_a_campaign_preview_changes_its_digest(client: Client, sandbox_app: Any) -> None:
    start = (sandbox_app.state.sandbox.clock.now() + timedelta(hours=1)).isoformat()
    args = {"instance_id": INSTANCE, "name": "VIP", "schedule": start, "recipients_type": "tags", "tags": ["vip"],
            "type": "text", "body": "Soldes privées"}
    first = await call_ok(client, "create_campaign", args)
    await write_inbound(sandbox_app, JEAN, "ARRÊT")
    second = await call_ok(client, "create_campaign", {**args, "confirm_token": first["confirm_token"]})
    assert second["status"] == "confirmation_required"  # nothing sent: the plan changed
    count = first["preview"]["who"]["count"]
    assert f"recipients {count} → {count - 1}" in second["preview"]["changes"]
    assert second["preview"]["digest"] != first["preview"]["digest"]


async def test_resume_is_refused_when_its_recipients_opted_out(client: Client, sandbox_app: Any) -> None:
    start = (sandbox_app.state.sandbox.clock.now() + timedelta(hours=1)).isoformat()
    args = {"instance_id": INSTANCE, "name": "VIP", "schedule": start, "recipients_type": "tags", "tags": ["vip"],
            "type": "text", "body": "Soldes privées"}
    first = await call_ok(client, "create_campaign", args)
    created = await call_ok(client, "create_campaign", {**args, "confirm_token": first["confirm_token"]})
    campaign_id = created["data"]["id"]
    await call_ok(client, "pause_campaign", {"campaign_id": campaign_id})
    await write_inbound(sandbox_app, JEAN, "STOP")
    refused = await call_error(client, "resume_campaign", {"campaign_id": campaign_id})
    assert "opted out, in its recipients" in refused and JEAN in refused and "create a new campaign" in refused


async def test_a_warming_instance_is_a_risk_in_the_preview(client: Client) -> None:
    """Send-rate risk shows before confirming (the API only says so in its answer to the send)."""
    args = {"instance_id": S.TEAM_INSTANCE_ID, "to": "+221771234501", "type": "text", "text": "Bonjour",
            "workspace": "sandbox-team"}
    preview = (await call_ok(client, "send_message", args))["preview"]
    [line] = [line for line in preview["risk"] if "warming" in line]
    assert line.startswith("instance equipe-ventes is warming (send-rate risk medium, decision warn)")
    assert "Keep volumes low" in line
    calm = (await call_ok(client, "send_message", {**args, "workspace": "personal", "instance_id": INSTANCE,
                                                   "to": AWA}))["preview"]
    assert not any("warming" in line for line in calm.get("risk", []))


async def test_the_resource_offers_the_same_list(client: Client, sandbox_app: Any) -> None:
    import json

    await write_inbound(sandbox_app, JEAN, "STOP")
    result = await client.read_resource("msgflash://opt-outs")
    data = json.loads(result.contents[0].text)  # type: ignore[union-attr]
    assert {r["phone"] for r in data["data"]["opt_outs"]} == {JEAN, *SEEDED}
    listed = await call_ok(client, "list_opt_outs")
    assert listed["data"]["opt_outs"] == data["data"]["opt_outs"]
