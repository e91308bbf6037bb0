"""contacts toolset: cursor lists, CRUD, guarded deletes, bulk delete and following its bulk job."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.keys import TEAM_ID, TEAM_NAME
from msgflash_mcp.sandbox.seed import AWA_CONTACT_ID, PERSONAL_CONTACTS, TEAM_CONTACTS, VIP_GROUP_ID, contact_id
from msgflash_mcp.tools import contacts as contacts_module

from tests.conftest import call_error, call_ok, mutations
from tests.fake_time import FakeClock

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
PERSONAL = "personal (sandbox)"
TEAM = f"{TEAM_NAME} (sandbox)"
FROZEN = datetime(2026, 5, 8, 10, 0, tzinfo=UTC)
PERSONAL_IDS = [contact_id(phone) for _, phone, _ in PERSONAL_CONTACTS]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(FROZEN, sleep_moves_time=True)


@pytest.fixture
def sandbox_app(clock: FakeClock) -> Any:
    """The sandbox on a frozen clock: bulk jobs only progress when a test (or a sleep on it) moves time."""
    return create_app(SandboxConfig(db_path=":memory:", rate_limit=0, now=clock.now))


@pytest.fixture
def sleeps(server: MCPServer[Any], clock: FakeClock) -> list[float]:
    """get_bulk_job_progress sleeps on the server's clock, here the sandbox's: it moves time, no real waiting."""
    server.runtime.clock = clock  # type: ignore[attr-defined]
    return clock.waits


async def confirmed(
    client: Client, tool: str, args: dict[str, Any], ledger: Ledger
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token path: the first call only previews (nothing committed), the second acts."""
    before = mutations(ledger())
    first = await call_ok(client, tool, args)
    assert first["status"] == "confirmation_required", first
    assert first["confirm_token"] and first["preview"]
    assert mutations(ledger()) == before
    done = await call_ok(client, tool, {**args, "confirm_token": first["confirm_token"]})
    assert done["status"] == "ok", done
    return first, done


# ---------------------------------------------------------------- list / search / sort


async def test_list_contacts_pages_with_the_cursor_without_overlap(client: Client, ledger: Ledger) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        args: dict[str, Any] = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        out = await call_ok(client, "list_contacts", args)
        assert out["workspace"] == PERSONAL
        ids = [c["id"] for c in out["data"]["contacts"]]
        assert not set(ids) & set(seen), "pages overlap"
        seen += ids
        pages += 1
        cursor = out.get("next_cursor")
        assert cursor == out["data"]["nextCursor"]
        if cursor is None:
            assert "more" not in out["summary"]
            break
        assert out["summary"] == f"7 of {len(PERSONAL_CONTACTS)} contact(s) (more: pass next_cursor)"
    assert pages == 3
    assert sorted(seen) == sorted(PERSONAL_IDS)
    # default sort is newest first: the seed creates contacts in list order, one day apart
    assert seen == list(reversed(PERSONAL_IDS))
    assert [e["query"].startswith("limit=7") for e in ledger()] == [True] * 3


async def test_list_contacts_search_matches_name_or_phone_case_insensitively(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "list_contacts", {"search": "AWA"})
    assert [c["name"] for c in out["data"]["contacts"]] == ["Awa Diop"]
    assert out["summary"] == "1 of 1 contact(s) matching 'AWA'"
    by_phone = await call_ok(client, "list_contacts", {"search": "+3361234501"})
    phones = sorted(c["phone"] for c in by_phone["data"]["contacts"])
    assert phones == [f"+336123450{n}" for n in range(10, 20)]
    assert "search=AWA" in ledger()[0]["query"]


@pytest.mark.parametrize(
    ("typed", "searched"),
    [
        ("+33 6 12 34 50 00", "+33612345000"),
        ("+33 (0)6 12-34-50-00", "+33612345000"),  # the '(0)' trunk digit is dropped
        ("06 12 34 50 00", "612345000"),  # national form: digits without the trunk zero
        ("0033 612 345 000", "33612345000"),
    ],
)
async def test_a_formatted_phone_number_finds_the_contact(
    client: Client, ledger: Ledger, typed: str, searched: str
) -> None:
    out = await call_ok(client, "list_contacts", {"search": typed})
    assert [c["name"] for c in out["data"]["contacts"]] == ["Awa Diop"]
    assert out["summary"] == f"1 of 1 contact(s) matching {typed!r} (as {searched})"
    assert f"search={searched.replace('+', '%2B')}" in ledger()[0]["query"]


def tagged(*tags: str, rows: list[tuple[str, str, list[str]]] = PERSONAL_CONTACTS) -> set[str]:
    return {name for name, _, own in rows if set(tags) <= set(own)}


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 3 contacts, so a tag scan over the 20 seeded contacts takes 7 requests."""
    monkeypatch.setattr(contacts_module, "TAG_PAGE_SIZE", 3)


async def test_list_contacts_by_tags_reads_every_page_and_reports_progress(
    client: Client, ledger: Ledger, small_pages: None
) -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    result = await client.call_tool("list_contacts", {"tags": ["VIP ", "customer"]}, progress_callback=on_progress)
    out = result.structured_content or {}
    assert {c["name"] for c in out["data"]["contacts"]} == tagged("vip", "customer") == {"Awa Diop", "Aminata Ba"}
    assert out["data"]["complete"] is True and out["data"]["scanned"] == len(PERSONAL_CONTACTS)
    assert out["summary"] == "2 contact(s) tagged 'VIP', 'customer'"
    assert out.get("next_cursor") is None
    requests = ledger()
    assert len(requests) == 7 and {(e["method"], e["path"]) for e in requests} == {("GET", "/api/v1/contacts")}
    assert seen == [(float(min(3 * n, 20)), 20.0) for n in range(1, 8)]


async def test_list_contacts_by_tags_shows_at_most_limit_but_counts_all(client: Client) -> None:
    out = await call_ok(client, "list_contacts", {"tags": ["lead"], "limit": 2})
    assert out["data"]["matched"] == len(tagged("lead")) and len(out["data"]["contacts"]) == 2
    assert out["summary"] == f"{len(tagged('lead'))} contact(s) tagged 'lead', showing the first 2"


async def test_a_bounded_tag_scan_says_so_and_resumes_from_its_cursor(
    client: Client, monkeypatch: pytest.MonkeyPatch, small_pages: None
) -> None:
    monkeypatch.setattr(contacts_module, "MAX_TAG_PAGES", 2)
    first = await call_ok(client, "list_contacts", {"tags": ["newsletter"]})
    assert first["data"]["complete"] is False and first["data"]["scanned"] == 6
    assert first["summary"] == (
        f"{first['data']['matched']} contact(s) tagged 'newsletter' among the first 6 of 20 "
        "(the scan stops after 2 pages); more may match: pass next_cursor"
    )
    assert first["next_cursor"]
    names = {c["name"] for c in first["data"]["contacts"]}
    cursor = first["next_cursor"]
    while cursor:
        more = await call_ok(client, "list_contacts", {"tags": ["newsletter"], "cursor": cursor})
        names |= {c["name"] for c in more["data"]["contacts"]}
        cursor = more.get("next_cursor")
    assert names == tagged("newsletter")


async def test_list_contacts_by_tags_in_the_team_workspace(client: Client) -> None:
    out = await call_ok(client, "list_contacts", {"tags": ["prospect"], "workspace": TEAM_NAME})
    assert {c["name"] for c in out["data"]["contacts"]} == tagged("prospect", rows=TEAM_CONTACTS)


@pytest.mark.parametrize("tags", [[], [""], ["x" * 101], [f"t{n}" for n in range(11)]])
async def test_tag_selector_validation_sends_nothing(client: Client, ledger: Ledger, tags: list[str]) -> None:
    await call_error(client, "list_contacts", {"tags": tags})
    assert ledger() == []


async def test_list_contacts_sort_name_asc_pages_in_name_order(client: Client) -> None:
    first = await call_ok(client, "list_contacts", {"sort": "name_asc", "limit": 10})
    second = await call_ok(client, "list_contacts", {"sort": "name_asc", "limit": 10, "cursor": first["next_cursor"]})
    names = [c["name"] for c in first["data"]["contacts"] + second["data"]["contacts"]]
    assert names == sorted((name for name, _, _ in PERSONAL_CONTACTS), key=str.lower)
    assert second.get("next_cursor") is None
    assert first["data"]["sort"] == "name_asc"


async def test_list_contacts_in_the_team_workspace(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "list_contacts", {"workspace": TEAM_NAME})
    assert out["workspace"] == TEAM
    assert len(out["data"]["contacts"]) == len(TEAM_CONTACTS)
    assert [(e["key_kind"], e["team_id"]) for e in ledger()] == [("team", TEAM_ID)]


@pytest.mark.parametrize(
    "args",
    [{"limit": 0}, {"limit": 101}, {"search": ""}, {"search": "x" * 101}, {"sort": "name_desc"}, {"cursor": "c" * 513}],
)
async def test_list_contacts_validation_sends_nothing(client: Client, ledger: Ledger, args: dict[str, Any]) -> None:
    await call_error(client, "list_contacts", args)
    assert ledger() == []


async def test_a_cursor_from_another_sort_is_a_readable_error(client: Client) -> None:
    first = await call_ok(client, "list_contacts", {"limit": 5})
    error = await call_error(client, "list_contacts", {"limit": 5, "sort": "name_asc", "cursor": first["next_cursor"]})
    assert "VALIDATION_ERROR" in error and "cursor" in error


# ---------------------------------------------------------------- CRUD


async def test_get_contact(client: Client) -> None:
    out = await call_ok(client, "get_contact", {"contact_id": AWA_CONTACT_ID})
    assert out["workspace"] == PERSONAL
    assert out["summary"] == 'Contact "Awa Diop" (+33612345000)'
    assert out["data"]["tags"] == ["vip", "customer"] and out["data"]["meta"] == {"city": "Paris"}


async def test_get_unknown_contact_is_not_found_with_advice(client: Client) -> None:
    error = await call_error(client, "get_contact", {"contact_id": str(uuid.uuid4())})
    assert "404 NOT_FOUND" in error and "list the collection" in error


async def test_a_contact_of_the_other_workspace_is_not_found(client: Client) -> None:
    error = await call_error(client, "get_contact", {"contact_id": AWA_CONTACT_ID, "workspace": TEAM_NAME})
    assert "NOT_FOUND" in error


async def test_get_contact_rejects_a_non_uuid_before_any_request(client: Client, ledger: Ledger) -> None:
    error = await call_error(client, "get_contact", {"contact_id": "../billing/usage"})
    assert "contact_id" in error
    assert ledger() == []


async def test_contact_round_trip_create_get_update_delete(client: Client, ledger: Ledger) -> None:
    created = await call_ok(
        client,
        "create_contact",
        {"name": " Zoé Kane ", "phone": "+33 6 12 34 59 99", "tags": ["new"], "meta": {"source": "mcp"}},
    )
    assert created["workspace"] == PERSONAL
    new_id = created["data"]["id"]
    assert created["data"]["phone"] == "+33612345999"  # normalised to E.164 before sending
    assert created["summary"] == f'Created contact "Zoé Kane" (+33612345999), id {new_id}'

    got = await call_ok(client, "get_contact", {"contact_id": new_id})
    assert got["data"]["tags"] == ["new"] and got["data"]["meta"] == {"source": "mcp"}

    updated = await call_ok(
        client, "update_contact", {"contact_id": new_id, "tags": ["vip", "lead"], "meta": {"city": "Lyon"}}
    )
    assert updated["data"]["tags"] == ["vip", "lead"]  # replaced, not merged
    assert updated["data"]["meta"] == {"city": "Lyon"}
    assert updated["data"]["name"] == "Zoé Kane"  # untouched
    assert updated["summary"] == 'Updated contact "Zoé Kane" (+33612345999) (tags, meta)'
    cleared = await call_ok(client, "update_contact", {"contact_id": new_id, "tags": []})
    assert cleared["data"]["tags"] == []

    first, done = await confirmed(client, "delete_contact", {"contact_id": new_id}, ledger)
    assert first["preview"]["who"] == {"count": 1, "sample": [{"name": "Zoé Kane", "phone": "+33612345999"}]}
    assert first["preview"]["action"] == 'Delete contact "Zoé Kane" (+33612345999)'
    assert done["summary"] == f"Deleted contact {new_id}"
    deletes = [e for e in ledger() if e["method"] == "DELETE"]
    assert len(deletes) == 1 and deletes[0]["committed"]
    error = await call_error(client, "get_contact", {"contact_id": new_id})
    assert "NOT_FOUND" in error


async def test_delete_contact_preview_changes_nothing_and_the_token_acts_once(client: Client, ledger: Ledger) -> None:
    args = {"contact_id": AWA_CONTACT_ID}
    first = await call_ok(client, "delete_contact", args)
    assert first["status"] == "confirmation_required"
    assert first["preview"]["who"]["sample"] == [{"name": "Awa Diop", "phone": "+33612345000"}]
    assert [(e["method"], e["committed"]) for e in ledger()] == [("GET", False)]
    assert (await call_ok(client, "get_contact", args))["data"]["name"] == "Awa Diop"

    token = first["confirm_token"]
    await call_ok(client, "delete_contact", {**args, "confirm_token": token})
    replay = await call_ok(client, "delete_contact", {**args, "confirm_token": token})
    assert replay["status"] == "replayed"
    assert len([e for e in ledger() if e["method"] == "DELETE"]) == 1


async def test_delete_unknown_contact_fails_at_the_preview(client: Client, ledger: Ledger) -> None:
    error = await call_error(client, "delete_contact", {"contact_id": str(uuid.uuid4())})
    assert "nothing was sent" in error and "NOT_FOUND" in error
    assert mutations(ledger()) == []


async def test_duplicate_phone_is_a_readable_conflict(client: Client, ledger: Ledger) -> None:
    error = await call_error(client, "create_contact", {"name": "Awa Again", "phone": "+33612345000"})
    assert "409 CONFLICT" in error and "already exists" in error
    # The API's answer does not name the existing contact: it is looked up here, and the next step given.
    assert f'"Awa Diop" (+33612345000), id {AWA_CONTACT_ID}' in error
    assert f"Nothing was created; use contact_id {AWA_CONTACT_ID} for that person (add_group_members" in error
    assert [(e["method"], e["path"]) for e in ledger()] == [("POST", "/api/v1/contacts"), ("GET", "/api/v1/contacts")]
    assert [e for e in mutations(ledger()) if e["committed"]] == []


async def test_find_or_create_then_add_to_a_group_needs_no_other_lookup(client: Client, sandbox_app: Any) -> None:
    """'Add Fatou and Awa to the VIPs unless they exist': two creates (one a duplicate naming its id), one add."""
    fatou = await call_ok(client, "create_contact", {"name": "Fatou Sow", "phone": "+33612345777"})
    conflict = await call_error(client, "create_contact", {"name": "Awa", "phone": "+33612345000"})
    existing = conflict.split("use contact_id ")[1].split(" ")[0]
    assert existing == AWA_CONTACT_ID
    group = await call_ok(client, "create_group", {"name": "Find or create"})
    added = await call_ok(client, "add_group_members",
                          {"group_id": group["data"]["id"], "contact_ids": [fatou["data"]["id"], existing]})
    assert added["data"]["added"] == 2
    members = await call_ok(client, "list_group_members", {"group_id": group["data"]["id"]})
    assert {m["phone"] for m in members["data"]["members"]} == {"+33612345777", "+33612345000"}


@pytest.mark.parametrize("phone", ["0612345678", "+999", "not a number", "+336123"])
async def test_invalid_phone_is_rejected_before_any_request(client: Client, ledger: Ledger, phone: str) -> None:
    error = await call_error(client, "create_contact", {"name": "Bad Number", "phone": phone})
    assert "phone" in error and "E.164" in error
    assert ledger() == []


@pytest.mark.parametrize(
    "args",
    [
        {"name": "", "phone": "+33612345998"},
        {"name": "A", "phone": "+33612345998", "tags": [""]},
        {"name": "A", "phone": "+33612345998", "meta": "city=Paris"},
        {"phone": "+33612345998"},
    ],
)
async def test_create_contact_validation_sends_nothing(client: Client, ledger: Ledger, args: dict[str, Any]) -> None:
    await call_error(client, "create_contact", args)
    assert ledger() == []


async def test_update_contact_needs_a_change(client: Client, ledger: Ledger) -> None:
    error = await call_error(client, "update_contact", {"contact_id": AWA_CONTACT_ID})
    assert "at least one of name, phone, tags, meta" in error
    error = await call_error(client, "update_contact", {"contact_id": AWA_CONTACT_ID, "phone": "12"})
    assert "phone" in error
    assert ledger() == []


async def test_update_contact_to_a_used_phone_is_a_conflict(client: Client) -> None:
    error = await call_error(client, "update_contact", {"contact_id": AWA_CONTACT_ID, "phone": "+33612345001"})
    assert "CONFLICT" in error


async def test_update_contact_param_descriptions_say_tags_and_meta_replace(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    props = tools["update_contact"].input_schema["properties"]
    assert "REPLACES" in props["tags"]["description"] and "REPLACES" in props["meta"]["description"]


async def test_get_contact_groups(client: Client) -> None:
    out = await call_ok(client, "get_contact_groups", {"contact_id": AWA_CONTACT_ID})
    assert out["workspace"] == PERSONAL
    assert [g["id"] for g in out["data"]] == [VIP_GROUP_ID]
    assert out["summary"] == "In 1 group(s): VIPs"
    error = await call_error(client, "get_contact_groups", {"contact_id": str(uuid.uuid4())})
    assert "NOT_FOUND" in error


# ---------------------------------------------------------------- bulk delete and bulk jobs


async def test_bulk_delete_under_100_is_immediate(client: Client, ledger: Ledger) -> None:
    unknown = str(uuid.uuid4())
    args = {"contact_ids": [*PERSONAL_IDS[:3], unknown]}
    first, done = await confirmed(client, "bulk_delete_contacts", args, ledger)
    assert first["preview"]["who"]["count"] == 4 and first["preview"]["mode"].startswith("immediate")
    assert [p["name"] for p in first["preview"]["who"]["sample"]] == ["Awa Diop", "Moussa Ndiaye", "Fatou Sow"]
    assert first["preview"]["action"] == (
        'Delete 4 contact(s) permanently: "Awa Diop" (+33612345000), "Moussa Ndiaye" (+33612345001), '
        '"Fatou Sow" (+33612345002) and 1 more'
    )
    assert first["preview"]["risk"] == [f"1 of the first 4 id(s) match no contact: {unknown}"]
    assert done["data"] == {"requested": 4, "deleted": 3, "notFound": [unknown]}
    assert done["summary"] == "Deleted 3 of 4 contact(s); 1 not found"
    assert (await call_ok(client, "list_contacts"))["data"]["total"] == len(PERSONAL_IDS) - 3


async def test_bulk_delete_by_tags_previews_exactly_who_then_deletes_them(client: Client, ledger: Ledger) -> None:
    leads = {name for name, _, tags in PERSONAL_CONTACTS if "lead" in tags}
    first, done = await confirmed(client, "bulk_delete_contacts", {"tags": ["lead"]}, ledger)
    assert first["preview"]["action"].startswith(f"Delete {len(leads)} contact(s) permanently: ")
    assert {p["name"] for p in first["preview"]["who"]["sample"]} <= leads
    assert first["preview"]["who"]["count"] == len(leads)
    assert done["data"]["deleted"] == len(leads)
    remaining = (await call_ok(client, "list_contacts", {"limit": 100}))["data"]["contacts"]
    assert not {c["name"] for c in remaining} & leads
    assert len(remaining) == len(PERSONAL_CONTACTS) - len(leads)


async def test_a_contact_tagged_after_the_preview_makes_the_bulk_delete_ask_again(
    client: Client, ledger: Ledger
) -> None:
    """The tagged people are in the plan's digest: tagging one more before the confirmation deletes nobody."""
    leads = [(name, phone) for name, phone, tags in PERSONAL_CONTACTS if "lead" in tags]
    outsider = next((name, phone, tags) for name, phone, tags in PERSONAL_CONTACTS if "lead" not in tags)
    first = await call_ok(client, "bulk_delete_contacts", {"tags": ["lead"]})
    assert first["status"] == "confirmation_required" and first["preview"]["who"]["count"] == len(leads)
    await call_ok(client, "update_contact", {"contact_id": contact_id(outsider[1]), "tags": [*outsider[2], "lead"]})
    before = mutations(ledger())
    again = await call_ok(client, "bulk_delete_contacts", {"tags": ["lead"], "confirm_token": first["confirm_token"]})
    assert again["status"] == "confirmation_required", again
    assert again["preview"]["who"]["count"] == len(leads) + 1
    assert any("recipient" in line for line in again["preview"]["changes"]), again["preview"]
    assert [m for m in mutations(ledger())[len(before):] if m["path"].endswith("/bulk-delete")] == []


def requests_since(ledger: Ledger, start: int) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in ledger()[start:]]


async def test_a_confirmed_bulk_delete_by_tags_sends_the_planned_ids_and_resolves_nothing_more(
    client: Client, ledger: Ledger
) -> None:
    """The tagged ids are in the planned request: the confirmed call re-plans once (the token's check
    against live data) and then posts exactly those ids; the body does not scan the tags again."""
    leads = {contact_id(phone) for _, phone, tags in PERSONAL_CONTACTS if "lead" in tags}
    first = await call_ok(client, "bulk_delete_contacts", {"tags": ["lead"]})
    start = len(ledger())
    done = await call_ok(client, "bulk_delete_contacts", {"tags": ["lead"], "confirm_token": first["confirm_token"]})
    assert done["status"] == "ok", done
    assert requests_since(ledger, start) == [("GET", "/api/v1/contacts"), ("POST", "/api/v1/contacts/bulk-delete")]
    assert done["data"] == {"requested": len(leads), "deleted": len(leads), "notFound": []}
    remaining = (await call_ok(client, "list_contacts", {"limit": 100}))["data"]["contacts"]
    assert {c["id"] for c in remaining} == set(PERSONAL_IDS) - leads


async def test_a_confirmed_delete_sends_the_planned_request_once(client: Client, ledger: Ledger) -> None:
    first = await call_ok(client, "delete_contact", {"contact_id": AWA_CONTACT_ID})
    start = len(ledger())
    done = await call_ok(client, "delete_contact", {"contact_id": AWA_CONTACT_ID, "confirm_token": first["confirm_token"]})
    assert done["summary"] == f"Deleted contact {AWA_CONTACT_ID}"
    path = f"/api/v1/contacts/{AWA_CONTACT_ID}"
    assert requests_since(ledger, start) == [("GET", path), ("DELETE", path)]  # the re-plan's read, then the plan


async def test_unguarded_contact_writes_send_their_one_request_and_read_nothing(client: Client, ledger: Ledger) -> None:
    """create, an update (a new phone too, with no pending campaign on record) and cancel are not confirmed:
    their plan is built from the arguments alone, so each call is exactly its request."""
    start = len(ledger())
    created = await call_ok(client, "create_contact", {"name": "Zoé Kane", "phone": "+33612345999"})
    new_id = created["data"]["id"]
    assert requests_since(ledger, start) == [("POST", "/api/v1/contacts")]

    start = len(ledger())
    updated = await call_ok(client, "update_contact", {"contact_id": new_id, "name": "Zoé K.", "phone": "+33612345998"})
    assert updated["summary"] == 'Updated contact "Zoé K." (+33612345998) (name, phone)'
    assert requests_since(ledger, start) == [("PUT", f"/api/v1/contacts/{new_id}")]

    _, queued = await confirmed(
        client, "bulk_delete_contacts", {"contact_ids": [str(uuid.uuid4()) for _ in range(100)]}, ledger
    )
    job_id = queued["data"]["jobId"]
    start = len(ledger())
    cancelled = await call_ok(client, "cancel_bulk_job", {"job_id": job_id})
    assert cancelled["data"]["status"] == "cancelled"
    assert requests_since(ledger, start) == [("POST", f"/api/v1/contacts/bulk-jobs/{job_id}/cancel")]


async def test_bulk_delete_by_a_tag_nobody_has_is_refused(client: Client, ledger: Ledger) -> None:
    error = await call_error(client, "bulk_delete_contacts", {"tags": ["nobody-has-this"]})
    assert "no contact carries these tags" in error
    assert mutations(ledger()) == []


@pytest.mark.parametrize("selector", [{}, {"contact_ids": [AWA_CONTACT_ID], "tags": ["vip"]}])
async def test_bulk_delete_takes_ids_or_tags(client: Client, ledger: Ledger, selector: dict[str, Any]) -> None:
    error = await call_error(client, "bulk_delete_contacts", selector)
    assert "either contact_ids or tags" in error
    assert ledger() == []


async def test_bulk_delete_of_100_ids_becomes_a_job_that_can_be_followed(
    client: Client, ledger: Ledger, sleeps: list[float]
) -> None:
    unknown = [str(uuid.uuid4()) for _ in range(100 - len(PERSONAL_IDS))]
    args = {"contact_ids": PERSONAL_IDS + unknown}
    first, done = await confirmed(client, "bulk_delete_contacts", args, ledger)
    assert first["preview"]["who"]["count"] == 100 and len(first["preview"]["who"]["sample"]) == 5
    assert "async bulk job" in first["preview"]["mode"] and "get_bulk_job_progress" in first["preview"]["mode"]
    job = done["data"]
    assert job["mode"] == "async" and job["operation"] == "bulk_delete_contacts" and job["requestedCount"] == 100
    job_id = job["jobId"]
    assert done["summary"].startswith(f"Queued as bulk job {job_id} (delete 100 contacts, 100 ids, status pending)")
    assert "get_bulk_job_progress" in done["summary"]

    now = await call_ok(client, "get_bulk_job_progress", {"job_id": job_id})
    assert now["data"]["status"] == "pending" and now["data"]["progress"] == 0
    assert "still running after waiting 0 s" in now["summary"]
    assert sleeps == []

    # 100 ids at the sandbox's 50 ids/s: done after 2 s of sandbox time, i.e. one poll.
    followed = await call_ok(client, "get_bulk_job_progress", {"job_id": job_id, "wait_seconds": 30})
    assert followed["workspace"] == PERSONAL
    assert followed["data"]["status"] == "done" and followed["data"]["progress"] == 100
    assert followed["data"]["summary"] == {"deleted": len(PERSONAL_IDS), "notFound": len(unknown)}
    assert followed["summary"] == (
        f"Bulk job {job_id} (bulk_delete_contacts): done, 100/100 processed (100%); "
        f"deleted {len(PERSONAL_IDS)}, notFound {len(unknown)}"
    )
    assert sleeps == [2.0]
    assert (await call_ok(client, "list_contacts"))["data"]["total"] == 0

    listed = await call_ok(client, "list_bulk_jobs")
    assert [j["id"] for j in listed["data"]["jobs"]] == [job_id]
    assert listed["summary"] == "1 bulk job(s), 0 running"
    one = await call_ok(client, "get_bulk_job", {"job_id": job_id})
    assert one["data"]["status"] == "done" and one["summary"] == followed["summary"]


async def test_waiting_is_bounded_and_a_running_job_can_be_cancelled(
    client: Client, ledger: Ledger, sleeps: list[float]
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(500)]  # 10 s of sandbox time
    _, done = await confirmed(client, "bulk_delete_contacts", {"contact_ids": ids}, ledger)
    job_id = done["data"]["jobId"]

    reported: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, total, message))

    result = await client.call_tool(
        "get_bulk_job_progress", {"job_id": job_id, "wait_seconds": 5}, progress_callback=on_progress
    )
    assert not result.is_error and result.structured_content is not None
    out = result.structured_content
    assert sleeps == [2.0, 2.0, 1.0]
    # 500 ids at 50 ids/s: 0% before the first poll, then 20%, 40%, 50% (MCP progress notifications)
    assert reported == [
        (0.0, 100.0, "bulk job pending"),
        (20.0, 100.0, "bulk job processing"),
        (40.0, 100.0, "bulk job processing"),
        (50.0, 100.0, "bulk job processing"),
    ]
    assert out["data"]["status"] == "processing" and out["data"]["processedCount"] == 250
    assert out["summary"].endswith("still running after waiting 5 s: call again to keep following")
    polls = [e for e in ledger() if e["path"].endswith("/progress")]
    assert len(polls) == 4

    running = await call_ok(client, "list_bulk_jobs")
    assert running["summary"] == "1 bulk job(s), 1 running"

    cancelled = await call_ok(client, "cancel_bulk_job", {"job_id": job_id})
    assert cancelled["workspace"] == PERSONAL
    assert cancelled["data"]["status"] == "cancelled" and cancelled["data"]["processedCount"] == 250
    assert cancelled["summary"].startswith(f"Cancelled: Bulk job {job_id} (bulk_delete_contacts): cancelled, 250/500")

    again = await call_error(client, "cancel_bulk_job", {"job_id": job_id})
    assert "BAD_REQUEST" in again and "already cancelled" in again and "read it first" in again


async def test_list_bulk_jobs_pages_with_a_job_id_cursor(client: Client, ledger: Ledger) -> None:
    job_ids = []
    for _ in range(3):
        _, done = await confirmed(
            client, "bulk_delete_contacts", {"contact_ids": [str(uuid.uuid4()) for _ in range(100)]}, ledger
        )
        job_ids.append(done["data"]["jobId"])
    first = await call_ok(client, "list_bulk_jobs", {"limit": 2})
    second = await call_ok(client, "list_bulk_jobs", {"limit": 2, "cursor": first["next_cursor"]})
    listed = [j["id"] for j in first["data"]["jobs"] + second["data"]["jobs"]]
    assert listed == list(reversed(job_ids))  # newest first, no overlap
    assert second.get("next_cursor") is None


async def test_unknown_bulk_job_is_not_found(client: Client) -> None:
    for tool in ("get_bulk_job", "get_bulk_job_progress", "cancel_bulk_job"):
        error = await call_error(client, tool, {"job_id": str(uuid.uuid4())})
        assert "NOT_FOUND" in error, tool


@pytest.mark.parametrize(
    "contact_ids",
    [[], [AWA_CONTACT_ID, AWA_CONTACT_ID], ["not-a-uuid"], [str(uuid.uuid4()) for _ in range(10_001)]],
)
async def test_bulk_delete_validation_sends_nothing(client: Client, ledger: Ledger, contact_ids: list[str]) -> None:
    await call_error(client, "bulk_delete_contacts", {"contact_ids": contact_ids})
    assert ledger() == []


@pytest.mark.parametrize("wait", [-1, 121])
async def test_wait_seconds_is_bounded(client: Client, ledger: Ledger, wait: int) -> None:
    await call_error(client, "get_bulk_job_progress", {"job_id": str(uuid.uuid4()), "wait_seconds": wait})
    assert ledger() == []


async def test_duplicate_ids_error_names_them(client: Client) -> None:
    error = await call_error(client, "bulk_delete_contacts", {"contact_ids": [AWA_CONTACT_ID, AWA_CONTACT_ID]})
    assert "unique" in error and AWA_CONTACT_ID in error
