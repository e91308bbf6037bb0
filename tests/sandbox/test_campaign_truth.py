"""Campaigns as the reference suggests (issue 22): resolution time, repeats, templates in use, stats
that add up, buttons campaigns. Each test runs under every resolution setting it depends on."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.campaign_runs import Resolution

from tests.fake_time import FakeClock
from tests.resolution import each_resolution

from .helpers import error_code

pytestmark = [pytest.mark.anyio, each_resolution]
PC = S.PERSONAL_CONNECTED_INSTANCE_ID
DAY = 86_400.0
LEADS = {"type": "group", "groupId": S.LEADS_GROUP_ID}  # 7 members at seed time
TEXT = {"type": "text", "body": "Promo"}


async def tick(api: httpx2.AsyncClient, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    await api.get("/_sandbox/clock")


async def create(api: httpx2.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"instanceId": PC, "name": "Leads", "schedule": "2026-04-10T12:00:10.000Z", "recipients": LEADS, **TEXT,
            **fields}
    r = await api.post("/api/v1/campaigns", json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def campaign(api: httpx2.AsyncClient, cid: str) -> dict[str, Any]:
    return (await api.get(f"/api/v1/campaigns/{cid}")).json()["data"]


async def messages_of(api: httpx2.AsyncClient, cid: str) -> list[dict[str, Any]]:
    rows = (await api.get("/api/v1/messages", params={"limit": 100})).json()["data"]["messages"]
    return [m for m in rows if m["campaignId"] == cid]


async def new_lead(api: httpx2.AsyncClient, phone: str) -> str:
    contact = (await api.post("/api/v1/contacts", json={"name": "Nouveau", "phone": phone})).json()["data"]
    r = await api.post(f"/api/v1/contacts/groups/{S.LEADS_GROUP_ID}/members", json={"contactIds": [contact["id"]]})
    assert r.status_code == 200, r.text
    return contact["id"]


def adds_up(stats: dict[str, Any]) -> bool:
    parts = ("sent", "failed", "skipped", "cancelled", "queued")
    return stats["planned"] == sum(stats[k] for k in parts) and all(stats[k] >= 0 for k in parts)


async def test_recipients_are_resolved_when_the_setting_says(
    api: httpx2.AsyncClient, clock: FakeClock, resolution: Resolution
) -> None:
    camp = await create(api)
    # The reference's create example answers with zeroed stats: resolved at start unless frozen at create.
    assert camp["stats"]["planned"] == (7 if resolution == "create" else 0)
    assert adds_up(camp["stats"])
    await new_lead(api, "+33699887766")  # joins the group after creation, before the start
    await tick(api, clock, 60)
    done = await campaign(api, camp["id"])
    assert done["status"] == "completed"
    assert done["stats"]["planned"] == (7 if resolution == "create" else 8) and adds_up(done["stats"])
    assert len(await messages_of(api, camp["id"])) == done["stats"]["planned"]


async def test_a_daily_campaign_runs_again_and_stays_pending_between_runs(
    api: httpx2.AsyncClient, clock: FakeClock, resolution: Resolution
) -> None:
    camp = await create(api, repeat="daily")
    assert camp["nextRunAt"] == "2026-04-10T12:00:10.000Z"
    await tick(api, clock, 60)
    between = await campaign(api, camp["id"])
    # Between runs: scheduled again (inferred), with the next run's time; never completed.
    assert between["status"] == "scheduled" and between["nextRunAt"] == "2026-04-11T12:00:10.000Z"
    assert between["stats"]["completedAt"] is None and between["stats"]["planned"] == 7 and adds_up(between["stats"])
    await new_lead(api, "+33699887766")
    await tick(api, clock, DAY)
    second = await campaign(api, camp["id"])
    per_run = 8 if resolution == "run" else 7  # only `run` resolves the selector again at each run
    assert second["status"] == "scheduled" and second["nextRunAt"] == "2026-04-12T12:00:10.000Z"
    assert second["stats"]["planned"] == 7 + per_run and adds_up(second["stats"])
    assert len(await messages_of(api, camp["id"])) == 7 + per_run
    paused = (await api.post(f"/api/v1/campaigns/{camp['id']}/pause")).json()["data"]
    assert paused["status"] == "paused" and paused["nextRunAt"] is None
    await tick(api, clock, 3 * DAY)
    assert (await campaign(api, camp["id"]))["stats"]["planned"] == 7 + per_run  # paused for good: no more runs


async def test_a_clock_jump_runs_every_weekly_run_it_passes(
    api: httpx2.AsyncClient, clock: FakeClock, resolution: Resolution
) -> None:
    camp = await create(api, repeat="weekly")
    await tick(api, clock, 15 * DAY)  # runs at +0, +7 and +14 days
    got = await campaign(api, camp["id"])
    assert got["stats"]["planned"] == 21 and adds_up(got["stats"])
    assert got["nextRunAt"] == "2026-05-01T12:00:10.000Z"


async def test_a_template_a_pending_campaign_uses_cannot_be_deleted(
    api: httpx2.AsyncClient, clock: FakeClock, resolution: Resolution
) -> None:
    tmpl = (await api.post("/api/v1/templates", json={"name": "t", "type": "text", "body": "Bonjour {{contact.name}}"})).json()["data"]
    once = await create(api, type=None, body=None, templateId=tmpl["id"])
    daily = await create(api, type=None, body=None, templateId=tmpl["id"], repeat="daily")
    r = await api.delete(f"/api/v1/templates/{tmpl['id']}")
    assert r.status_code == 409 and error_code(r) == "CONFLICT"
    assert {d["message"] for d in r.json()["error"]["details"]} == {once["id"], daily["id"]}
    await tick(api, clock, 60)  # the one-off completes; the daily one waits for its next run
    r = await api.delete(f"/api/v1/templates/{tmpl['id']}")
    assert error_code(r) == "CONFLICT" and [d["message"] for d in r.json()["error"]["details"]] == [daily["id"]]
    await api.post(f"/api/v1/campaigns/{daily['id']}/pause")  # paused can be resumed: still pending
    assert error_code(await api.delete(f"/api/v1/templates/{tmpl['id']}")) == "CONFLICT"
    sent = await messages_of(api, once["id"])
    assert sent and all(m["body"] and m["body"].startswith("Bonjour ") for m in sent)  # never a blank message


async def test_recipients_deleted_before_their_send_are_skipped_with_a_reason(
    api: httpx2.AsyncClient, clock: FakeClock, resolution: Resolution
) -> None:
    camp = await create(api, schedule="2026-04-10T12:00:00.000Z")
    await tick(api, clock, 1)  # started and resolved; 2 of the 7 enqueued (2 per second)
    members = (await api.get(f"/api/v1/contacts/groups/{S.LEADS_GROUP_ID}/members", params={"limit": 100})).json()["data"]
    last = [m["id"] for m in members["members"]][-2:]
    r = await api.post("/api/v1/contacts/bulk-delete", json={"contactIds": last})
    assert r.json()["data"]["deleted"] == 2
    await tick(api, clock, 60)
    stats = (await campaign(api, camp["id"]))["stats"]
    assert stats["planned"] == 7 and stats["skipped"] == 2 and stats["queued"] == 0
    assert stats["skippedReasons"] == {"CONTACT_DELETED": 2} and adds_up(stats)


async def test_a_buttons_campaign_carries_its_buttons_to_every_message(
    api: httpx2.AsyncClient, clock: FakeClock, resolution: Resolution
) -> None:
    buttons = [{"type": "url", "displayText": "Voir", "url": "https://example.com/promo"},
               {"type": "reply", "displayText": "Stop", "id": "stop"}]
    content = {"type": "buttons", "title": "Soldes", "description": "-20 % ce week-end", "footer": "Boutique",
               "buttons": buttons}
    camp = await create(api, body=None, **content)
    assert "content" not in camp and {k: camp[k] for k in content} == content  # the reference's field names
    await tick(api, clock, 60)
    sent = await messages_of(api, camp["id"])
    assert len(sent) == 7
    for m in sent:
        full = (await api.get(f"/api/v1/messages/{m['id']}")).json()["data"]
        assert full["type"] == "buttons" and full["body"] == "-20 % ce week-end"
        assert full["meta"]["content"] == {k: v for k, v in content.items() if k != "type"}
