"""Behaviour: team rules and workspaces, pagination, lifecycles on a fake clock, bulk jobs,
number lookups, webhooks outbox, quotas."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx2
import pytest
from msgflash_mcp.sandbox import seed as S

from tests.fake_time import FakeClock
from tests.resolution import each_resolution

from .helpers import PERSONAL, TEAM, client_for, error_code

pytestmark = pytest.mark.anyio
PC = S.PERSONAL_CONNECTED_INSTANCE_ID


async def tick(api: httpx2.AsyncClient, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    await api.get("/_sandbox/clock")


# ------------------------------------------------------------------------------------- workspaces


async def test_personal_and_team_workspaces_are_distinct(app: Any) -> None:
    async with client_for(app, PERSONAL) as p, client_for(app, TEAM) as t:
        pc = (await p.get("/api/v1/contacts")).json()["data"]
        tc = (await t.get("/api/v1/contacts")).json()["data"]
        assert pc["total"] == 20 and tc["total"] == 8
        assert not {c["id"] for c in pc["contacts"]} & {c["id"] for c in tc["contacts"]}
        ti = (await t.get("/api/v1/instances")).json()["data"]
        assert [i["id"] for i in ti] == [S.TEAM_INSTANCE_ID]
        assert (await t.get(f"/api/v1/contacts/{S.AWA_CONTACT_ID}")).status_code == 404
        assert (await p.get(f"/api/v1/templates/{S.TEAM_TEMPLATE_ID}")).status_code == 404
        # team usage counts against the owner's plan
        before = (await p.get("/api/v1/usage")).json()["data"]["usage"]["messagesCount"]
        r = await t.post("/api/v1/messages/send", json={"instanceId": S.TEAM_INSTANCE_ID, "to": "+221771234501", "type": "text", "text": "hi"})
        assert r.status_code == 201
        after = (await p.get("/api/v1/usage")).json()["data"]["usage"]["messagesCount"]
        assert after == before + 1
        assert (await t.get("/api/v1/billing/plans")).status_code == 200
        assert error_code(await t.get("/api/v1/me")) == "TEAM_KEY_NOT_ALLOWED"
        wrong = {**TEAM, "X-Team-Id": str(uuid.uuid4())}
        assert (await t.get("/api/v1/contacts", headers=wrong)).status_code == 401
    kinds = [(e["key_kind"], e["team_id"]) for e in app.state.sandbox.ledger]
    assert ("team", TEAM["X-Team-Id"]) in kinds and ("personal", None) in kinds


# ------------------------------------------------------------------------------------- pagination


async def test_contacts_cursor_pagination_both_sorts(api: httpx2.AsyncClient) -> None:
    for sort in ("createdAt_desc", "name_asc"):
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            q = f"/api/v1/contacts?limit=7&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
            data = (await api.get(q)).json()["data"]
            seen += [c["name"] for c in data["contacts"]]
            assert data["limit"] == 7 and data["sort"] == sort and data["total"] == 20
            cursor = data["nextCursor"]
            if not data["hasMore"]:
                assert cursor is None
                break
        assert len(seen) == len(set(seen)) == 20
        if sort == "name_asc":
            assert seen == sorted(seen, key=str.lower)
    first = (await api.get("/api/v1/contacts?limit=5")).json()["data"]
    value = base64.urlsafe_b64decode(first["nextCursor"] + "==").decode()
    assert value.rsplit("|", 1)[1] == first["contacts"][-1]["id"]
    r = await api.get(f"/api/v1/contacts?limit=5&sort=name_asc&cursor={first['nextCursor']}")
    assert (r.status_code, error_code(r)) == (400, "VALIDATION_ERROR")
    for bad in ("limit=0", "limit=101", "limit=x", "sort=phone", "cursor=%%%", "search=" + "a" * 101):
        r = await api.get("/api/v1/contacts?" + bad)
        assert (r.status_code, error_code(r)) == (400, "VALIDATION_ERROR"), bad
    found = (await api.get("/api/v1/contacts?search=DIOP")).json()["data"]
    assert [c["name"] for c in found["contacts"]] == ["Awa Diop"]
    assert (await api.get("/api/v1/contacts?search=3361234501")).json()["data"]["total"] == 10


async def test_templates_and_messages_pagination(api: httpx2.AsyncClient) -> None:
    data = (await api.get("/api/v1/templates?limit=2")).json()["data"]
    assert set(data) == {"templates", "total", "page", "totalPages"}
    assert (data["total"], data["page"], data["totalPages"], len(data["templates"])) == (3, 1, 2, 2)
    assert len((await api.get("/api/v1/templates?limit=2&page=2")).json()["data"]["templates"]) == 1
    assert error_code(await api.get("/api/v1/templates?limit=101")) == "VALIDATION_ERROR"
    ids: list[str] = []
    cursor = ""
    while True:
        data = (await api.get("/api/v1/messages?limit=4" + (f"&cursor={cursor}" if cursor else ""))).json()["data"]
        ids += [m["id"] for m in data["messages"]]
        if not data["hasMore"]:
            break
        cursor = data["nextCursor"]
    assert len(ids) == len(set(ids)) > 10
    delivered = (await api.get("/api/v1/messages?status=read")).json()["data"]["messages"]
    assert delivered and all(m["status"] == "read" for m in delivered)
    assert error_code(await api.get("/api/v1/messages?limit=101")) == "VALIDATION_ERROR"


# ------------------------------------------------------------------------------------- lifecycles


async def test_message_lifecycle_and_failure(api: httpx2.AsyncClient, clock: FakeClock) -> None:
    send = {"instanceId": PC, "type": "text", "text": "hi"}
    ok = (await api.post("/api/v1/messages/send", json={**send, "to": "+33612345678"})).json()["data"]
    bad = (await api.post("/api/v1/messages/send", json={**send, "to": "+33612345013"})).json()["data"]
    assert ok["status"] == bad["status"] == "queued" and ok["providerMessageId"] is None
    seen = []
    for step in (1, 1.5, 3, 23.5, 2):
        await tick(api, clock, step)
        seen.append((await api.get(f"/api/v1/messages/{ok['id']}")).json()["data"]["status"])
    assert seen == ["queued", "sent", "delivered", "delivered", "read"]
    final = (await api.get(f"/api/v1/messages/{bad['id']}")).json()["data"]
    assert final["status"] == "failed" and final["error"]["code"]
    msg = (await api.get(f"/api/v1/messages/{ok['id']}")).json()["data"]
    assert msg["providerMessageId"].startswith("BAE5") and msg["meta"]["workerSafety"]["decision"] == "allow"


async def test_scheduled_message_leaves_at_its_time(api: httpx2.AsyncClient, clock: FakeClock) -> None:
    when = "2026-04-10T13:00:00.000Z"  # the fake clock starts at 12:00
    r = await api.post("/api/v1/messages/schedule", json={"instanceId": PC, "to": "+33612345678", "type": "text", "text": "later", "scheduledAt": when})
    m = r.json()["data"]
    assert (r.status_code, m["status"], m["scheduledAt"]) == (201, "scheduled", when)
    used = (await api.get("/api/v1/usage")).json()["data"]["usage"]["messagesCount"]
    await tick(api, clock, 3599)
    assert (await api.get(f"/api/v1/messages/{m['id']}")).json()["data"]["status"] == "scheduled"
    await tick(api, clock, 3)
    assert (await api.get(f"/api/v1/messages/{m['id']}")).json()["data"]["status"] == "sent"
    assert (await api.get("/api/v1/usage")).json()["data"]["usage"]["messagesCount"] == used + 1
    past = await api.post("/api/v1/messages/schedule", json={"instanceId": PC, "to": "+33612345678", "type": "text", "text": "x", "scheduledAt": "2020-01-01T00:00:00Z"})
    assert error_code(past) == "VALIDATION_ERROR"


async def test_template_send_renders_body(api: httpx2.AsyncClient) -> None:
    r = await api.post("/api/v1/messages/send", json={"instanceId": PC, "to": "+33612345000", "templateId": S.PROMO_TEMPLATE_ID, "variables": {"code": "PROMO10"}})
    assert r.status_code == 201 and r.json()["data"]["body"] == "Hello Awa, utilisez PROMO10."
    prev = (await api.post(f"/api/v1/templates/{S.PROMO_TEMPLATE_ID}/preview", json={})).json()["data"]
    assert prev["valid"] is False and prev["missingVariables"] == ["contact.firstName", "custom.code"]
    created = (await api.post("/api/v1/templates", json={"name": "t", "type": "text", "body": "{{user.firstName}} / {{instance.name}} {{custom.x}}"})).json()["data"]
    assert created["variables"] == ["user.firstName", "instance.name", "custom.x"]
    prev = (await api.post(f"/api/v1/templates/{created['id']}/preview", json={"instanceId": PC, "variables": {"x": 1}})).json()["data"]
    assert prev["rendered"] == "Awa / boutique-principale 1" and prev["valid"]


@each_resolution
async def test_campaign_runs_pauses_resumes_completes(api: httpx2.AsyncClient, clock: FakeClock, resolution: str) -> None:
    body = {"instanceId": PC, "name": "Leads", "schedule": "2026-04-10T12:00:10.000Z", "repeat": "noe",
            "recipients": {"type": "group", "groupId": S.LEADS_GROUP_ID}, "type": "text", "body": "Promo"}
    r = await api.post("/api/v1/campaigns", json=body)
    camp = r.json()["data"]
    assert r.status_code == 201 and camp["status"] == "scheduled" and camp["repeat"] == "none"
    assert camp["stats"]["planned"] == (7 if resolution == "create" else 0) and set(camp["safety"]) >= {"decision", "riskLevel", "state", "score", "reasons", "recommendations"}
    cid = camp["id"]
    await tick(api, clock, 11)  # started at +10 s, 2 recipients/s
    got = (await api.get(f"/api/v1/campaigns/{cid}")).json()["data"]
    assert got["status"] == "running" and got["stats"]["processingStartedAt"] == "2026-04-10T12:00:10.000Z"
    paused = (await api.post(f"/api/v1/campaigns/{cid}/pause")).json()["data"]
    assert paused["status"] == "paused"
    await tick(api, clock, 60)
    still = (await api.get(f"/api/v1/campaigns/{cid}/stats")).json()["data"]
    # enqueued at +10 s, +10.5 s and +11 s; nothing more while paused
    assert still["status"] == "paused" and still["stats"]["sent"] + still["stats"]["failed"] == 3
    assert error_code(await api.post(f"/api/v1/campaigns/{cid}/pause")) == "BAD_REQUEST"
    resumed = (await api.post(f"/api/v1/campaigns/{cid}/resume")).json()["data"]
    assert resumed["status"] == "running" and "safety" in resumed
    await tick(api, clock, 60)
    done = (await api.get(f"/api/v1/campaigns/{cid}")).json()["data"]
    assert done["status"] == "completed" and done["stats"]["completedAt"]
    s = done["stats"]
    assert s["failed"] == 1  # Paul Lefevre's number ends in 13
    assert s["sent"] == 6 and s["read"] == 6 and s["queued"] == 0
    assert error_code(await api.post(f"/api/v1/campaigns/{cid}/resume")) == "BAD_REQUEST"


@each_resolution
async def test_campaign_recipient_rules(api: httpx2.AsyncClient, clock: FakeClock) -> None:
    base = {"instanceId": PC, "name": "x", "schedule": "2026-04-10T12:00:00Z", "type": "text", "body": "b"}
    for sel, planned in (({"type": "all"}, 20), ({"type": "tags", "value": ["vip"]}, 5),
                         ({"type": "explicit", "value": [S.AWA_CONTACT_ID, str(uuid.uuid4())]}, 1)):
        r = await api.post("/api/v1/campaigns", json={**base, "recipients": sel})
        await tick(api, clock, 0)  # starts now: resolved under every setting
        assert (await api.get(f"/api/v1/campaigns/{r.json()['data']['id']}")).json()["data"]["stats"]["planned"] == planned
    for sel in ({"type": "tags"}, {"type": "explicit", "value": []}, {"type": "group"}, {"type": "everyone"},
                {"type": "tags", "value": ["nobody-has-this"]}):
        assert error_code(await api.post("/api/v1/campaigns", json={**base, "recipients": sel})) == "VALIDATION_ERROR", sel
    assert error_code(await api.post("/api/v1/campaigns", json={**base, "recipients": {"type": "group", "groupId": str(uuid.uuid4())}})) == "NOT_FOUND"
    neither = {k: v for k, v in base.items() if k not in ("type", "body")}
    assert error_code(await api.post("/api/v1/campaigns", json={**neither, "recipients": {"type": "all"}})) == "VALIDATION_ERROR"


# ------------------------------------------------------------------------------------- bulk jobs


async def test_bulk_delete_async_job_progress_and_cancel(api: httpx2.AsyncClient, clock: FakeClock) -> None:
    ids = [str(uuid.uuid4()) for _ in range(200)] + [S.AWA_CONTACT_ID]
    r = await api.post("/api/v1/contacts/bulk-delete", json={"contactIds": ids})
    job = r.json()["data"]
    assert r.status_code == 202 and job["mode"] == "async" and job["operation"] == "bulk_delete_contacts"
    assert job["requestedCount"] == 201 and job["progress"] == 0 and job["status"] == "pending"
    jid = job["jobId"]
    await tick(api, clock, 2)  # 50 ids/s
    p = (await api.get(f"/api/v1/contacts/bulk-jobs/{jid}/progress")).json()["data"]
    assert p["status"] == "processing" and p["processedCount"] == 100 and p["progress"] == 49
    c = (await api.post(f"/api/v1/contacts/bulk-jobs/{jid}/cancel")).json()["data"]
    assert c["status"] == "cancelled" and c["completedAt"] and c["summary"]["notFound"] == 100
    await tick(api, clock, 60)
    assert (await api.get(f"/api/v1/contacts/bulk-jobs/{jid}")).json()["data"]["processedCount"] == 100
    assert error_code(await api.post(f"/api/v1/contacts/bulk-jobs/{jid}/cancel")) == "BAD_REQUEST"
    assert (await api.get(f"/api/v1/contacts/{S.AWA_CONTACT_ID}")).status_code == 200  # never reached


async def test_group_members_sync_and_async(api: httpx2.AsyncClient, clock: FakeClock) -> None:
    grp = (await api.post("/api/v1/contacts/groups", json={"name": "Big"})).json()["data"]
    gid = grp["id"]
    made = []
    for i in range(110):
        r = await api.post("/api/v1/contacts", json={"name": f"C{i}", "phone": f"+336123460{i:02d}" if i < 100 else f"+3361234710{i - 100}"})
        assert r.status_code == 201, r.text
        made.append(r.json()["data"]["id"])
    r = await api.post(f"/api/v1/contacts/groups/{gid}/members", json={"contactIds": made[:2]})
    assert r.json()["data"] == {"added": 2, "alreadyInGroup": 0, "notFound": 0, "total": 2}
    r = await api.post(f"/api/v1/contacts/groups/{gid}/members", json={"contactIds": made})
    assert r.status_code == 202 and r.json()["data"]["groupId"] == gid
    await tick(api, clock, 10)
    job = (await api.get(f"/api/v1/contacts/bulk-jobs/{r.json()['data']['jobId']}")).json()["data"]
    assert job["status"] == "done" and job["summary"] == {"added": 108, "alreadyInGroup": 2, "notFound": 0}
    assert (await api.get(f"/api/v1/contacts/groups/{gid}")).json()["data"]["contactCount"] == 110
    r = await api.request("DELETE", f"/api/v1/contacts/groups/{gid}/members", json={"contactIds": [made[0], S.AWA_CONTACT_ID]})
    assert r.json()["data"] == {"removed": 1, "notInGroup": 1}
    jobs = (await api.get("/api/v1/contacts/bulk-jobs?limit=1")).json()["data"]
    assert len(jobs["jobs"]) == 1 and "error" not in jobs["jobs"][0]
    assert (await api.get(f"/api/v1/contacts/bulk-jobs?cursor={jobs['jobs'][0]['id']}")).json()["data"]["jobs"] == []
    assert (await api.request("DELETE", f"/api/v1/contacts/groups/{gid}")).json()["data"]["deleted"] is True
    assert (await api.get(f"/api/v1/contacts/{made[0]}")).status_code == 200


# ------------------------------------------------------------------------------------- lookups


async def test_number_lookup_async_and_import(api: httpx2.AsyncClient, clock: FakeClock) -> None:
    numbers = [f"+336123470{i:02d}" for i in range(100)] + ["nope"]
    r = await api.post("/api/v1/number-lookups", json={"instanceId": PC, "numbers": numbers})
    assert r.status_code == 202 and r.json()["data"]["mode"] == "async"
    lid = r.json()["data"]["lookupId"]
    await tick(api, clock, 1)
    p = (await api.get(f"/api/v1/number-lookups/{lid}/progress")).json()["data"]
    assert p["status"] == "processing" and p["checkedCount"] == 50 and p["invalidCount"] == 1 and p["normalizedCount"] == 100
    await tick(api, clock, 5)
    full = (await api.get(f"/api/v1/number-lookups/{lid}")).json()["data"]
    assert full["status"] == "done" and full["onWhatsAppCount"] == 50
    imp = (await api.post(f"/api/v1/number-lookups/{lid}/import-contacts", json={"tag": "verified-whatsapp"})).json()["data"]
    assert imp["imported"] == 50
    tagged = (await api.get("/api/v1/contacts?search=3361234700")).json()["data"]["contacts"]
    assert tagged and tagged[0]["tags"] == ["verified-whatsapp"]
    assert error_code(await api.post(f"/api/v1/number-lookups/{lid}/cancel")) == "BAD_REQUEST"
    assert [x["id"] for x in (await api.get("/api/v1/number-lookups")).json()["data"]] == [lid]


# ------------------------------------------------------------------------------------- webhooks


async def test_webhook_secret_once_and_signed_deliveries(api: httpx2.AsyncClient, clock: FakeClock) -> None:
    r = await api.post("/api/v1/webhooks", json={"url": "https://hooks.example.com/x", "events": ["message.sent", "message.read"]})
    hook = r.json()["data"]
    assert r.status_code == 201 and set(hook) == {"id", "url", "events", "secret", "active", "createdAt"}
    listed = (await api.get("/api/v1/webhooks")).json()["data"]
    assert all("secret" not in h for h in listed) and hook["id"] in [h["id"] for h in listed]
    assert error_code(await api.post("/api/v1/webhooks", json={"url": "https://e.com", "events": ["message.nope"]})) == "VALIDATION_ERROR"
    await api.request("DELETE", "/_sandbox/webhook-deliveries")
    sent = await api.post("/api/v1/messages/send", json={"instanceId": PC, "to": "+33612345678", "type": "text", "text": "hi"})
    await tick(api, clock, 31)
    out = (await api.get("/_sandbox/webhook-deliveries")).json()["data"]
    mine = [d for d in out if d["webhookId"] == hook["id"] and d["payload"]["messageId"] == sent.json()["data"]["id"]]
    assert [d["event"] for d in mine] == ["message.sent", "message.read"]
    for d in mine:
        expected = "sha256=" + hmac.new(hook["secret"].encode(), d["body"].encode(), hashlib.sha256).hexdigest()
        assert d["headers"]["X-MsgFlash-Signature"] == expected
        assert d["headers"]["X-MsgFlash-Event"] == d["event"] and d["headers"]["Content-Type"] == "application/json"
        assert json.loads(d["body"])["event"] == d["event"]
    assert (await api.request("DELETE", f"/api/v1/webhooks/{hook['id']}")).status_code == 200


# ------------------------------------------------------------------------------------- quotas


async def test_quotas_and_plan_changes(api: httpx2.AsyncClient) -> None:
    await api.post("/_sandbox/account", json={"usage": {"messagesCount": 4999, "statusesCount": 0}})
    send = {"instanceId": PC, "to": "+33612345678", "type": "text", "text": "hi"}
    assert (await api.post("/api/v1/messages/send", json=send)).status_code == 201
    r = await api.post("/api/v1/messages/send", json=send)
    assert (r.status_code, error_code(r)) == (429, "MONTHLY_OUTBOUND_QUOTA_EXCEEDED")
    u = (await api.get("/api/v1/billing/usage")).json()["data"]
    assert u["usage"]["effectiveOutboundUsage"] == 5000 and u["limits"]["monthlyOutboundQuota"] == 5000
    assert u["period"]["start"] == "2026-04-01T00:00:00.000Z" and u["period"]["end"] == "2026-04-30T23:59:59.999Z"
    api_before = u["usage"]["apiRequestsCount"]
    assert (await api.get("/api/v1/usage")).json()["data"]["usage"]["apiRequestsCount"] == api_before + 1
    await api.post("/_sandbox/account", json={"plan": "free", "usage": {"apiRequestsCount": 0, "messagesCount": 0}})
    sub = (await api.get("/api/v1/billing/subscription")).json()["data"]
    assert sub["subscription"]["plan"]["code"] == "free" and sub["subscription"]["plan"]["features"]["campaigns"] is False
    r = await api.post("/api/v1/number-lookups", json={"instanceId": PC, "numbers": ["+33612345678"]})
    assert (r.status_code, error_code(r)) == (403, "FEATURE_NOT_AVAILABLE_ON_PLAN")
    me = (await api.get("/api/v1/me")).json()["data"]
    assert me["plan"] == "free" and me["fullName"] == "Awa Demo" and me["teams"][0]["name"] == "sandbox-team"
