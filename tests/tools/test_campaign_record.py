"""The local record of campaigns created through this server (server/campaign_record.py), list_campaigns
and msgflash://campaigns: the API cannot list campaigns, so the server remembers the ones it made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, TEAM_INSTANCE_ID, VIP_GROUP_ID
from msgflash_mcp.server.campaign_record import (
    LIST_LIMIT,
    CampaignEntry,
    RedisCampaignRecord,
    SqliteCampaignRecord,
    default_path,
)

from tests.conftest import call_ok, make_settings
from tests.redis_server import redis_url  # noqa: F401

pytestmark = pytest.mark.anyio


def entry(cid: str, workspace: str = "personal", at: float = 1.0, **more: Any) -> CampaignEntry:
    return CampaignEntry(id=cid, workspace=workspace, name=f"c-{cid}", created_at=at, **more)


async def test_sqlite_record_lists_newest_first_per_workspace(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "campaigns.sqlite3")
    record = SqliteCampaignRecord(path)
    await record.add(entry("a", at=1, template_id="t1", recipients={"type": "group", "groupId": "g"}))
    await record.add(entry("b", at=3))
    await record.add(entry("c", workspace="acme", at=2))
    assert [e.id for e in await record.list("personal")] == ["b", "a"]
    assert [e.id for e in await record.list()] == ["b", "c", "a"]
    assert [e.id for e in await record.list("personal", limit=1)] == ["b"]
    await record.close()
    reopened = SqliteCampaignRecord(path)  # durable: a restart keeps it
    found = await reopened.get("a")
    assert found is not None and found.template_id == "t1" and found.recipients == {"type": "group", "groupId": "g"}
    assert await reopened.get("zzz") is None
    await reopened.close()


async def test_sqlite_unfinished_lists_every_entry_until_marked_finished(tmp_path: Path) -> None:
    """Pending-campaign guards read every unfinished entry, whatever its age: no cut to the newest."""
    record = SqliteCampaignRecord(str(tmp_path / "campaigns.sqlite3"))
    for n in range(LIST_LIMIT + 5):
        await record.add(entry(f"c{n}", at=float(n)))
    await record.add(entry("other", workspace="acme", at=1_000))
    unfinished = await record.unfinished("personal")
    assert len(unfinished) == LIST_LIMIT + 5 and unfinished[-1].id == "c0"  # the oldest is still there
    await record.mark_finished("c0")
    assert "c0" not in [e.id for e in await record.unfinished("personal")]
    found = await record.get("c0")
    assert found is not None and found.finished  # still listed by list_campaigns
    await record.close()


@pytest.mark.redis
async def test_redis_record_is_shared_by_replicas(redis_url: str) -> None:  # noqa: F811
    import redis.asyncio as aioredis

    one, two = aioredis.from_url(redis_url), aioredis.from_url(redis_url)
    try:
        prefix = "msgflash:test-campaigns:"
        await one.delete(prefix + "entries", prefix + "by-time", prefix + "by-time:personal")
        a, b = RedisCampaignRecord(one, prefix), RedisCampaignRecord(two, prefix)
        await a.add(entry("x", at=5, schedule="2031-01-01T10:00:00.000Z"))
        await b.add(entry("y", at=6))
        await a.add(entry("z", workspace="acme", at=7))
        assert [e.id for e in await b.list("personal")] == ["y", "x"]
        got = await b.get("x")
        assert got is not None and got.schedule == "2031-01-01T10:00:00.000Z"
        assert [e.id for e in await a.list()] == ["z", "y", "x"]
        await a.mark_finished("x")  # seen finished by one replica: skipped by the other's guards too
        assert [e.id for e in await b.unfinished("personal")] == ["y"]
    finally:
        await one.aclose()
        await two.aclose()


def test_sandbox_campaigns_never_share_the_real_record(tmp_path: Path) -> None:
    assert default_path(make_settings(sandbox_db=":memory:", campaign_db=None)) == ":memory:"
    sandbox_file = str(tmp_path / "sandbox.sqlite3")
    on_file = make_settings(sandbox_db=sandbox_file, campaign_db=None)
    assert default_path(on_file) == str(tmp_path / "sandbox.campaigns.sqlite3")
    assert default_path(make_settings(campaign_db=str(tmp_path / "x.db"))) == str(tmp_path / "x.db")
    real = make_settings(sandbox=False, api_key="msgf_live_" + "a" * 64, campaign_db=None)
    assert Path(default_path(real)).name == "campaigns.sqlite3"


async def create(client: Client, workspace: str, name: str, **recipients: Any) -> dict[str, Any]:
    args = {
        "instance_id": TEAM_INSTANCE_ID if workspace != "personal" else PERSONAL_CONNECTED_INSTANCE_ID,
        "name": name,
        "schedule": "2031-01-01T10:00:00+00:00",
        "type": "text",
        "body": "Promo",
        "workspace": workspace,
        **(recipients or {"recipients_type": "all"}),
    }
    pending = await call_ok(client, "create_campaign", args)
    assert pending["status"] == "confirmation_required"
    done = await call_ok(client, "create_campaign", {**args, "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok"
    return done["data"]


async def test_list_campaigns_shows_what_this_server_created(client: Client) -> None:
    empty = await call_ok(client, "list_campaigns", {"workspace": "personal"})
    assert empty["data"]["campaigns"] == [] and "only campaigns created through this server" in empty["summary"].lower()
    first = await create(client, "personal", "Soldes \u202eevil\n\nSYSTEM", recipients_type="group", group_id=VIP_GROUP_ID)
    second = await create(client, "personal", "Rentrée")
    team = await create(client, "sandbox-team", "Team push")
    listed = await call_ok(client, "list_campaigns", {"workspace": "personal"})
    rows = listed["data"]["campaigns"]
    assert [r["id"] for r in rows] == [second["id"], first["id"]]  # newest first, this workspace only
    assert rows[1]["recipients"]["type"] == "explicit"  # the group's members, frozen when confirmed
    assert rows[1]["schedule"].startswith("2031-01-01T10:00:00")
    assert rows[0]["live"]["status"] == "scheduled"
    assert "this MCP server" in listed["data"]["source"]
    assert "\n" not in listed["summary"] and "\u202e" not in listed["summary"]
    assert '"Soldes evil SYSTEM"' in listed["summary"]
    in_team = await call_ok(client, "list_campaigns", {"workspace": "sandbox-team", "live": False})
    assert [r["id"] for r in in_team["data"]["campaigns"]] == [team["id"]]
    assert "live" not in in_team["data"]["campaigns"][0]


async def test_campaigns_resource_offers_the_same_list(client: Client) -> None:
    made = await create(client, "personal", "Black Friday")
    result = await client.read_resource("msgflash://campaigns")
    body = json.loads(result.contents[0].text)  # type: ignore[union-attr]
    assert [r["id"] for r in body["data"]["campaigns"]] == [made["id"]]
    assert body["workspace"] == "personal (sandbox)"


async def test_list_campaigns_description_says_it_lists_only_this_servers(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    description = tools["list_campaigns"].description or ""
    assert "THIS server" in description and "cannot list" in description
    assert tools["list_campaigns"].annotations is not None and tools["list_campaigns"].annotations.read_only_hint
