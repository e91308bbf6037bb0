"""groups toolset: cursor lists, CRUD, guarded delete, adding/removing members (sync and as bulk jobs)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import TEAM_ID, TEAM_NAME
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    LEADS_GROUP_ID,
    NEWSLETTER_GROUP_ID,
    PERSONAL_CONTACTS,
    TEAM_GROUP_ID,
    VIP_GROUP_ID,
    contact_id,
)
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.guard.plan import Plan, PlannedRequest
from msgflash_mcp.tools import contacts as contacts_module
from msgflash_mcp.tools import groups

from tests.conftest import call_error, call_ok, make_settings, mutations
from tests.fake_time import FakeClock

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
PERSONAL = "personal (sandbox)"
FROZEN = datetime(2026, 5, 8, 10, 0, tzinfo=UTC)
PERSONAL_IDS = [contact_id(phone) for _, phone, _ in PERSONAL_CONTACTS]
VIP_IDS = [contact_id(phone) for _, phone, tags in PERSONAL_CONTACTS if "vip" in tags]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(FROZEN, sleep_moves_time=True)


@pytest.fixture
def sandbox_app(clock: FakeClock) -> Any:
    """The sandbox on a frozen clock: bulk jobs only progress when a test (or a sleep on it) moves time."""
    return create_app(SandboxConfig(db_path=":memory:", rate_limit=0, now=clock.now))


async def new_group(client: Client, name: str = "Clients VIP") -> str:
    out = await call_ok(client, "create_group", {"name": name})
    return out["data"]["id"]


async def test_list_groups_pages_with_the_cursor_without_overlap(client: Client, ledger: Ledger) -> None:
    first = await call_ok(client, "list_groups", {"limit": 2})
    assert first["workspace"] == PERSONAL
    assert first["summary"] == "2 of 3 group(s) (more: pass next_cursor)"
    second = await call_ok(client, "list_groups", {"limit": 2, "cursor": first["next_cursor"]})
    assert second["summary"] == "1 of 3 group(s)" and second.get("next_cursor") is None
    ids = [g["id"] for g in first["data"]["groups"] + second["data"]["groups"]]
    assert ids == [VIP_GROUP_ID, LEADS_GROUP_ID, NEWSLETTER_GROUP_ID]
    assert [e["path"] for e in ledger()] == ["/api/v1/contacts/groups"] * 2


async def test_list_groups_search_and_team_workspace(client: Client, ledger: Ledger) -> None:
    found = await call_ok(client, "list_groups", {"search": "MONTHLY"})  # matches the description
    assert [g["id"] for g in found["data"]["groups"]] == [NEWSLETTER_GROUP_ID]
    team = await call_ok(client, "list_groups", {"workspace": TEAM_NAME})
    assert team["workspace"] == f"{TEAM_NAME} (sandbox)"
    assert [g["id"] for g in team["data"]["groups"]] == [TEAM_GROUP_ID]
    assert ledger()[-1]["team_id"] == TEAM_ID


@pytest.mark.parametrize("args", [{"limit": 0}, {"search": ""}, {"search": "s" * 101}])
async def test_list_groups_validation_sends_nothing(client: Client, ledger: Ledger, args: dict[str, Any]) -> None:
    await call_error(client, "list_groups", args)
    assert ledger() == []


async def test_get_group(client: Client) -> None:
    out = await call_ok(client, "get_group", {"group_id": VIP_GROUP_ID})
    assert out["workspace"] == PERSONAL
    assert out["data"]["contactCount"] == len(VIP_IDS)
    assert out["summary"] == f'Group "VIPs" ({len(VIP_IDS)} members)'
    error = await call_error(client, "get_group", {"group_id": str(uuid.uuid4())})
    assert "404 NOT_FOUND" in error and "list the collection" in error


async def test_group_round_trip_create_update_delete(client: Client, ledger: Ledger) -> None:
    created = await call_ok(
        client, "create_group", {"name": "Clients VIP", "description": "Top buyers", "color": "#F59E0B"}
    )
    assert created["workspace"] == PERSONAL
    group_id = created["data"]["id"]
    assert created["data"]["contactCount"] == 0
    assert created["summary"] == f'Created group "Clients VIP", id {group_id}'

    updated = await call_ok(client, "update_group", {"group_id": group_id, "color": "#fff"})
    assert updated["data"]["color"] == "#fff" and updated["data"]["description"] == "Top buyers"
    assert updated["summary"] == 'Updated group "Clients VIP" (0 members) (color)'

    await call_ok(client, "add_group_members", {"group_id": group_id, "contact_ids": PERSONAL_IDS[:2]})
    args = {"group_id": group_id}
    first = await call_ok(client, "delete_group", args)
    assert first["status"] == "confirmation_required"
    assert first["preview"]["group"] == "Clients VIP" and first["preview"]["members"] == 2
    assert "contacts themselves are kept" in first["preview"]["action"]
    assert (await call_ok(client, "get_group", args))["data"]["name"] == "Clients VIP"  # not deleted yet

    done = await call_ok(client, "delete_group", {**args, "confirm_token": first["confirm_token"]})
    assert done["summary"] == f"Deleted group {group_id}"
    assert "NOT_FOUND" in await call_error(client, "get_group", args)
    # the members are still contacts
    assert (await call_ok(client, "get_contact", {"contact_id": PERSONAL_IDS[0]}))["status"] == "ok"
    assert len([e for e in mutations(ledger()) if e["method"] == "DELETE"]) == 1


async def test_create_and_update_group_read_nothing_before_their_one_request(client: Client, ledger: Ledger) -> None:
    """Unguarded writes plan from their arguments alone: each call is exactly its one planned request."""
    group_id = await new_group(client)
    await call_ok(client, "update_group", {"group_id": group_id, "description": "Top buyers"})
    assert [(e["method"], e["path"]) for e in ledger()] == [
        ("POST", "/api/v1/contacts/groups"), ("PUT", f"/api/v1/contacts/groups/{group_id}")
    ]


async def test_delete_group_preview_changes_nothing(client: Client, ledger: Ledger) -> None:
    first = await call_ok(client, "delete_group", {"group_id": VIP_GROUP_ID})
    assert (
        first["preview"]["action"] == f'Delete group "VIPs" ({len(VIP_IDS)} members); the contacts themselves are kept'
    )
    assert first["preview"]["who"]["count"] == len(VIP_IDS) and len(first["preview"]["who"]["sample"]) == 5
    assert mutations(ledger()) == []


async def test_duplicate_group_name_is_a_conflict(client: Client) -> None:
    error = await call_error(client, "create_group", {"name": "VIPs"})
    assert "409 CONFLICT" in error


@pytest.mark.parametrize(
    "args",
    [{"name": ""}, {"name": "x" * 101}, {"name": "Ok", "color": "yellow"}, {"name": "Ok", "color": "#12345"}],
)
async def test_create_group_validation_sends_nothing(client: Client, ledger: Ledger, args: dict[str, Any]) -> None:
    await call_error(client, "create_group", args)
    assert ledger() == []


async def test_update_group_needs_a_change(client: Client, ledger: Ledger) -> None:
    error = await call_error(client, "update_group", {"group_id": VIP_GROUP_ID})
    assert "at least one of name, description, color" in error
    assert ledger() == []
    error = await call_error(client, "update_group", {"group_id": str(uuid.uuid4()), "name": "X"})
    assert "NOT_FOUND" in error


async def test_add_and_remove_members_report_counts(client: Client, ledger: Ledger) -> None:
    group_id = await new_group(client)
    unknown = str(uuid.uuid4())
    added = await call_ok(
        client, "add_group_members", {"group_id": group_id, "contact_ids": [*PERSONAL_IDS[:3], unknown]}
    )
    assert added["workspace"] == PERSONAL
    assert added["data"] == {"added": 3, "alreadyInGroup": 0, "notFound": 1, "total": 4}
    assert added["summary"] == "Added 3 of 4; 0 already in group, 1 not found"
    again = await call_ok(client, "add_group_members", {"group_id": group_id, "contact_ids": PERSONAL_IDS[:4]})
    assert again["data"] == {"added": 1, "alreadyInGroup": 3, "notFound": 0, "total": 4}

    removed = await call_ok(
        client, "remove_group_members", {"group_id": group_id, "contact_ids": [*PERSONAL_IDS[:2], PERSONAL_IDS[10]]}
    )
    assert removed["data"] == {"removed": 2, "notInGroup": 1}
    assert removed["summary"] == "Removed 2 of 3; 1 were not in the group"
    remove_calls = [e for e in ledger() if e["method"] == "DELETE"]
    assert len(remove_calls) == 1 and remove_calls[0]["path"] == f"/api/v1/contacts/groups/{group_id}/members"

    members = await call_ok(client, "list_group_members", {"group_id": group_id})
    assert sorted(m["id"] for m in members["data"]["members"]) == sorted(PERSONAL_IDS[2:4])
    assert (await call_ok(client, "get_group", {"group_id": group_id}))["data"]["contactCount"] == 2


async def test_add_group_members_by_tags_names_who_was_added(client: Client, ledger: Ledger) -> None:
    group_id = await new_group(client)
    before = len(ledger())
    added = await call_ok(client, "add_group_members", {"group_id": group_id, "tags": ["vip"]})
    vips = [name for name, _, tags in PERSONAL_CONTACTS if "vip" in tags]
    assert added["data"]["added"] == len(vips) == added["data"]["selectedCount"]
    assert {c["name"] for c in added["data"]["selected"]} == set(vips)
    assert added["summary"] == f"Added {len(vips)} of {len(vips)} tagged 'vip'; 0 already in group, 0 not found"
    writes = [e for e in ledger()[before:] if e["method"] != "GET"]
    assert len(writes) == 1 and writes[0]["path"] == f"/api/v1/contacts/groups/{group_id}/members"
    members = await call_ok(client, "list_group_members", {"group_id": group_id})
    assert sorted(m["id"] for m in members["data"]["members"]) == sorted(VIP_IDS)


async def test_add_group_members_by_a_tag_nobody_has_adds_nothing(client: Client, ledger: Ledger) -> None:
    group_id = await new_group(client)
    before = len(ledger())
    out = await call_ok(client, "add_group_members", {"group_id": group_id, "tags": ["nobody-has-this"]})
    assert out["summary"] == "Nothing added: 0 contact(s) tagged 'nobody-has-this'"
    assert [e["method"] for e in ledger()[before:]] == ["GET"]


async def test_an_incomplete_tag_scan_adds_nothing(client: Client, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contacts_module, "TAG_PAGE_SIZE", 3)
    monkeypatch.setattr(contacts_module, "MAX_TAG_PAGES", 2)
    group_id = await new_group(client)
    before = len(ledger())
    error = await call_error(client, "add_group_members", {"group_id": group_id, "tags": ["vip"]})
    assert "nothing added" in error and "list_contacts(tags=" in error and "among the first 6 of 20" in error
    assert [e["method"] for e in ledger()[before:]] == ["GET", "GET"]


@pytest.mark.parametrize("selector", [{}, {"contact_ids": [AWA_CONTACT_ID], "tags": ["vip"]}])
async def test_add_group_members_takes_ids_or_tags(client: Client, ledger: Ledger, selector: dict[str, Any]) -> None:
    error = await call_error(client, "add_group_members", {"group_id": VIP_GROUP_ID, **selector})
    assert "either contact_ids or tags" in error
    assert ledger() == []


async def test_remove_group_members_is_destructive_but_needs_no_confirmation(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    remove = tools["remove_group_members"]
    assert remove.annotations is not None and remove.annotations.destructive_hint is True
    assert remove.annotations.read_only_hint is False
    assert "confirm_token" not in remove.input_schema["properties"]
    add = tools["add_group_members"]
    assert add.annotations is not None and add.annotations.destructive_hint is False


async def test_members_of_an_unknown_group(client: Client) -> None:
    for tool, extra in (("add_group_members", {"contact_ids": [AWA_CONTACT_ID]}), ("list_group_members", {})):
        error = await call_error(client, tool, {"group_id": str(uuid.uuid4()), **extra})
        assert "NOT_FOUND" in error, tool


@pytest.mark.parametrize("tool", ["add_group_members", "remove_group_members"])
@pytest.mark.parametrize("contact_ids", [[], [AWA_CONTACT_ID, AWA_CONTACT_ID], ["42"]])
async def test_member_ids_are_validated_before_any_request(
    client: Client, ledger: Ledger, tool: str, contact_ids: list[str]
) -> None:
    await call_error(client, tool, {"group_id": VIP_GROUP_ID, "contact_ids": contact_ids})
    assert ledger() == []


async def test_list_group_members_pages_without_overlap(client: Client) -> None:
    first = await call_ok(client, "list_group_members", {"group_id": VIP_GROUP_ID, "limit": 3})
    assert first["workspace"] == PERSONAL
    assert first["summary"] == "3 member(s) (more: pass next_cursor)"
    second = await call_ok(
        client, "list_group_members", {"group_id": VIP_GROUP_ID, "limit": 3, "cursor": first["next_cursor"]}
    )
    ids = [m["id"] for m in first["data"]["members"] + second["data"]["members"]]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(VIP_IDS)
    assert second.get("next_cursor") is None


async def test_adding_100_members_becomes_a_job_that_can_be_followed(
    client: Client, sandbox_app: Any, server: MCPServer[Any], clock: FakeClock
) -> None:
    server.runtime.clock = clock  # type: ignore[attr-defined]  # following the job moves the sandbox's time
    slept = clock.waits
    group_id = await new_group(client)
    ids = PERSONAL_IDS + [str(uuid.uuid4()) for _ in range(130 - len(PERSONAL_IDS))]
    queued = await call_ok(client, "add_group_members", {"group_id": group_id, "contact_ids": ids})
    job = queued["data"]
    assert job["mode"] == "async" and job["operation"] == "add_to_group" and job["groupId"] == group_id
    assert queued["summary"].startswith(f"Queued as bulk job {job['jobId']} (add 130 contacts to the group")
    done = await call_ok(client, "get_bulk_job_progress", {"job_id": job["jobId"], "wait_seconds": 10})
    assert done["data"]["status"] == "done"
    assert done["data"]["summary"] == {
        "added": len(PERSONAL_IDS),
        "alreadyInGroup": 0,
        "notFound": 130 - len(PERSONAL_IDS),
    }
    assert slept == [2.0, 2.0]  # 130 ids at 50/s
    assert (await call_ok(client, "get_group", {"group_id": group_id}))["data"]["contactCount"] == len(PERSONAL_IDS)

    removing = await call_ok(client, "remove_group_members", {"group_id": group_id, "contact_ids": ids})
    assert removing["data"]["operation"] == "remove_from_group"
    removed = await call_ok(client, "get_bulk_job_progress", {"job_id": removing["data"]["jobId"], "wait_seconds": 10})
    assert removed["data"]["summary"] == {"removed": len(PERSONAL_IDS), "notInGroup": 130 - len(PERSONAL_IDS)}
    assert (await call_ok(client, "get_group", {"group_id": group_id}))["data"]["contactCount"] == 0


# ------------------------------------------------------------------ the request sent is the planned one


class Wire(httpx2.AsyncBaseTransport):
    """The sandbox, with every write written down as it left: method, path and JSON body."""

    def __init__(self, app: Any) -> None:
        self._inner = sandbox_transport(app)
        self.writes: list[tuple[str, str, Any]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method != "GET":
            body = await request.aread()
            self.writes.append((request.method, request.url.path, json.loads(body) if body else None))
        return await self._inner.handle_async_request(request)


def digest_of(tool: str, path: dict[str, str], body: Any) -> str:
    """The digest of a personal-workspace plan whose one request is `path` + `body` on `tool`'s route:
    equal to a preview's digest only if that preview planned exactly this request."""
    route = next(spec.route for spec in groups.toolset.specs if spec.name == tool)
    assert route is not None
    request = PlannedRequest(route, path=path, json=body)
    return Plan(tool=tool, action="-", workspace="personal", requests=(request,)).short


async def test_delete_group_sends_exactly_the_confirmed_plan(sandbox_app: Any) -> None:
    wire = Wire(sandbox_app)
    async with Client(build_server(make_settings(), http_transport=wire, sandbox_app=sandbox_app)) as client:
        first = await call_ok(client, "delete_group", {"group_id": LEADS_GROUP_ID})
        assert first["status"] == "confirmation_required" and wire.writes == []
        await call_ok(client, "delete_group", {"group_id": LEADS_GROUP_ID, "confirm_token": first["confirm_token"]})
    assert wire.writes == [("DELETE", f"/api/v1/contacts/groups/{LEADS_GROUP_ID}", None)]
    assert digest_of("delete_group", {"groupId": LEADS_GROUP_ID}, None) == first["preview"]["digest"]


async def planned_then_sent(sandbox_app: Any, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], Wire]:
    """The dry-run preview of a call (its plan), then the same call made for real through a recording wire."""
    async with Client(build_server(make_settings(dry_run=True), sandbox_app=sandbox_app)) as client:
        planned = await call_ok(client, tool, args)
    assert planned["status"] == "dry_run"
    wire = Wire(sandbox_app)
    async with Client(build_server(make_settings(), http_transport=wire, sandbox_app=sandbox_app)) as client:
        assert (await call_ok(client, tool, args))["status"] == "ok"
    return planned["preview"], wire


async def test_remove_group_members_sends_exactly_the_planned_ids(sandbox_app: Any) -> None:
    args = {"group_id": VIP_GROUP_ID, "contact_ids": VIP_IDS[:2]}
    preview, wire = await planned_then_sent(sandbox_app, "remove_group_members", args)
    assert preview["action"].startswith('Remove 2 contact(s) from group "VIPs"')
    path = f"/api/v1/contacts/groups/{VIP_GROUP_ID}/members"
    assert wire.writes == [("DELETE", path, {"contactIds": VIP_IDS[:2]})]
    assert digest_of("remove_group_members", {"groupId": VIP_GROUP_ID}, {"contactIds": VIP_IDS[:2]}) == preview["digest"]


async def test_add_group_members_by_tags_sends_the_ids_its_plan_resolved(client: Client, sandbox_app: Any) -> None:
    """The tag selector is resolved while planning: the request carries explicit ids, not the tags."""
    group_id = await new_group(client)
    preview, wire = await planned_then_sent(sandbox_app, "add_group_members", {"group_id": group_id, "tags": ["vip"]})
    assert preview["selectedCount"] == len(VIP_IDS)
    [(method, path, body)] = wire.writes
    assert (method, path) == ("POST", f"/api/v1/contacts/groups/{group_id}/members")
    assert set(body) == {"contactIds"} and sorted(body["contactIds"]) == sorted(VIP_IDS)
    assert digest_of("add_group_members", {"groupId": group_id}, body) == preview["digest"]
