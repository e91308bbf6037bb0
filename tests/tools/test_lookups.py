"""lookups toolset: sync (< 100 numbers) and async lookups, polling with an injected sleep, cancel, import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.keys import TEAM_ID, TEAM_NAME
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PERSONAL_DISCONNECTED_INSTANCE_ID,
    TEAM_INSTANCE_ID,
)
from msgflash_mcp.tools import lookups

from tests.conftest import call_error, call_ok, mutations
from tests.fake_time import FakeClock

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
SANDBOX_PERSONAL = "personal (sandbox)"
INSTANCE = PERSONAL_CONNECTED_INSTANCE_ID
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture
def sandbox_app(still_sandbox_app: Any) -> Any:
    """Async lookups progress on the sandbox clock: real seconds on a busy machine must not move them."""
    return still_sandbox_app


def numbers(count: int, prefix: str = "+336199") -> list[str]:
    """Valid French mobile numbers; the sandbox says 'on WhatsApp' when the last digit is even."""
    return [f"{prefix}{i:05d}" for i in range(count)]


@pytest.fixture
def sleeps(server: MCPServer[Any], clock: FakeClock) -> list[float]:
    """The poll sleeps on the server's clock, here the sandbox's: recorded, and time moves instead of waiting."""
    server.runtime.clock = clock  # type: ignore[attr-defined]
    return clock.waits


async def start_async(client: Client, count: int) -> str:
    out = await call_ok(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": numbers(count)})
    assert out["data"]["mode"] == "async"
    return out["data"]["lookupId"]


# ------------------------------------------------------------------------------------------ start


async def test_small_lookup_answers_synchronously(client: Client, ledger: Ledger) -> None:
    args = {"instance_id": INSTANCE, "numbers": ["+33612345000", "+33612345001", " +33612345002 "]}
    out = await call_ok(client, "start_number_lookup", args)
    assert out["status"] == "ok" and out["workspace"] == SANDBOX_PERSONAL
    data = out["data"]
    assert data["mode"] == "sync" and data["status"] == "done"
    assert [item["number"] for item in data["result"]["onWhatsApp"]] == ["+33612345000", "+33612345002"]
    assert [item["number"] for item in data["result"]["notOnWhatsApp"]] == ["+33612345001"]
    assert out["summary"] == f"Checked 3 numbers: 2 on WhatsApp, 1 not, 0 invalid (lookup {data['lookupId']})"
    [entry] = ledger()
    assert (entry["method"], entry["path"], entry["status"], entry["committed"]) == (
        "POST", "/api/v1/number-lookups", 200, True
    )


async def test_hundred_numbers_start_an_async_lookup(client: Client) -> None:
    out = await call_ok(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": numbers(100)})
    data = out["data"]
    assert data["mode"] == "async" and data["status"] == "pending" and data["requested"] == 100
    assert out["summary"].startswith(f"Lookup {data['lookupId']} started for 100 numbers (async)")
    assert f"get_number_lookup_progress(lookup_id='{data['lookupId']}', wait_seconds=30)" in out["summary"]


async def test_in_a_team_workspace(client: Client, ledger: Ledger) -> None:
    args = {"instance_id": TEAM_INSTANCE_ID, "numbers": ["+221771234500"], "workspace": TEAM_NAME}
    out = await call_ok(client, "start_number_lookup", args)
    assert out["workspace"] == f"{TEAM_NAME} (sandbox)"
    assert [(e["key_kind"], e["team_id"]) for e in ledger()] == [("team", TEAM_ID)]


async def test_a_partly_invalid_list_is_checked_and_the_bad_numbers_reported(client: Client, ledger: Ledger) -> None:
    """REFERENCE §17.1: the API takes the list and reports bad numbers in invalidCount / result.invalid."""
    args = {"instance_id": INSTANCE, "numbers": ["+33612345000", "0612345678", "+1555", "hello", "+33612345001"]}
    out = await call_ok(client, "start_number_lookup", args)
    data = out["data"]
    assert (data["requested"], data["onWhatsAppCount"], data["notOnWhatsAppCount"], data["invalidCount"]) == (5, 1, 1, 3)
    assert [item["input"] for item in data["result"]["invalid"]] == ["0612345678", "+1555", "hello"]
    assert out["summary"] == (
        f"Checked 5 numbers: 1 on WhatsApp, 1 not, 3 invalid (lookup {data['lookupId']}); "
        "invalid: '0612345678', '+1555', 'hello' (see result.invalid)"
    )
    [entry] = ledger()
    assert entry["status"] == 200 and entry["committed"]


async def test_a_list_with_no_possible_number_is_refused_by_index_and_nothing_is_sent(
    client: Client, ledger: Ledger
) -> None:
    args = {"instance_id": INSTANCE, "numbers": ["0612345678", "+1555", "hello"]}
    error = await call_error(client, "start_number_lookup", args)
    assert "None of the 3 numbers is a valid phone number" in error
    assert "numbers[0] '0612345678'" in error and "numbers[1] '+1555'" in error and "numbers[2] 'hello'" in error
    assert "nothing was sent" in error
    assert ledger() == []


async def test_international_digits_without_plus_are_left_to_the_api(client: Client) -> None:
    out = await call_ok(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": ["33612345000"]})
    assert [item["number"] for item in out["data"]["result"]["onWhatsApp"]] == ["+33612345000"]


async def test_many_invalid_numbers_are_summarised(client: Client, ledger: Ledger) -> None:
    error = await call_error(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": ["x"] * 30})
    assert "None of the 30 numbers" in error and "numbers[19] 'x'" in error and "and 10 more" in error
    assert "numbers[20]" not in error
    assert ledger() == []


@pytest.mark.parametrize(
    "args",
    [
        {"instance_id": INSTANCE, "numbers": []},
        {"instance_id": INSTANCE, "numbers": ["+33612345000"] * 10_001},
        {"instance_id": "not-a-uuid", "numbers": ["+33612345000"]},
        {"numbers": ["+33612345000"]},
        {"instance_id": INSTANCE},
    ],
    ids=["empty", "too-many", "bad-instance-id", "no-instance", "no-numbers"],
)
async def test_schema_validation_sends_nothing(client: Client, ledger: Ledger, args: dict[str, Any]) -> None:
    await call_error(client, "start_number_lookup", args)
    assert ledger() == []


async def test_unknown_instance_is_a_readable_not_found(client: Client) -> None:
    error = await call_error(client, "start_number_lookup", {"instance_id": UNKNOWN_ID, "numbers": ["+33612345000"]})
    assert "404 NOT_FOUND" in error and "list the collection" in error


async def test_disconnected_instance_is_refused_readably(client: Client, ledger: Ledger) -> None:
    args = {"instance_id": PERSONAL_DISCONNECTED_INSTANCE_ID, "numbers": ["+33612345000"]}
    error = await call_error(client, "start_number_lookup", args)
    assert "VALIDATION_ERROR" in error and "connected" in error
    assert mutations(ledger()) == []


# ------------------------------------------------------------------------------------------ read / poll


async def test_list_number_lookups(client: Client) -> None:
    empty = await call_ok(client, "list_number_lookups")
    assert empty["summary"] == "0 lookup(s)" and empty["workspace"] == SANDBOX_PERSONAL
    await call_ok(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": ["+33612345000"]})
    lookup_id = await start_async(client, 150)
    out = await call_ok(client, "list_number_lookups")
    assert out["summary"] == "2 lookup(s): 1 done, 1 pending"
    assert out["data"][0]["id"] == lookup_id  # newest first
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools["list_number_lookups"].input_schema["properties"]) == {"workspace"}


async def test_progress_without_wait_polls_once(client: Client, ledger: Ledger, sleeps: list[float]) -> None:
    lookup_id = await start_async(client, 150)
    out = await call_ok(client, "get_number_lookup_progress", {"lookup_id": lookup_id})
    assert out["data"]["status"] in ("pending", "processing")
    assert out["summary"].endswith("poll again")
    assert sleeps == []
    assert [e["path"] for e in ledger()][-1] == f"/api/v1/number-lookups/{lookup_id}/progress"


async def test_progress_waits_until_done(client: Client, ledger: Ledger, sleeps: list[float]) -> None:
    lookup_id = await start_async(client, 150)  # 150 numbers at 50/s: 3 s of sandbox time
    before = len(ledger())
    with anyio.fail_after(10):
        out = await call_ok(client, "get_number_lookup_progress", {"lookup_id": lookup_id, "wait_seconds": 30})
    data = out["data"]
    assert data["status"] == "done" and data["progress"] == 100 and data["checkedCount"] == 150
    assert sleeps == [2.0, 2.0]
    assert len(ledger()) - before == 3  # one poll per 2 s, then stop at done
    assert out["summary"] == (
        f"Lookup {lookup_id} done: 100% (150/150 checked; 75 on WhatsApp, 75 not, 0 invalid)"
    )


async def test_progress_is_reported_while_waiting(client: Client, sleeps: list[float]) -> None:
    lookup_id = await start_async(client, 150)
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    with anyio.fail_after(10):
        result = await client.call_tool(
            "get_number_lookup_progress", {"lookup_id": lookup_id, "wait_seconds": 30}, progress_callback=on_progress
        )
    assert not result.is_error
    assert len(seen) == len(sleeps) + 1 == 3
    assert seen[-1] == (100.0, 100.0)
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)


async def test_progress_stops_at_the_wait_budget(client: Client, sleeps: list[float]) -> None:
    lookup_id = await start_async(client, 2000)  # 40 s of sandbox time
    with anyio.fail_after(10):
        out = await call_ok(client, "get_number_lookup_progress", {"lookup_id": lookup_id, "wait_seconds": 5})
    assert sleeps == [2.0, 2.0, 1.0]
    assert out["data"]["status"] == "processing"
    assert 0 < out["data"]["checkedCount"] < 2000
    assert out["summary"].endswith("still running after 5 s, poll again")


@pytest.mark.parametrize("wait", [-1, 121, 2.5])
async def test_wait_seconds_is_bounded(client: Client, ledger: Ledger, sleeps: list[float], wait: Any) -> None:
    await call_error(client, "get_number_lookup_progress", {"lookup_id": UNKNOWN_ID, "wait_seconds": wait})
    assert ledger() == [] and sleeps == []


async def test_progress_of_an_unknown_lookup(client: Client, sleeps: list[float]) -> None:
    error = await call_error(client, "get_number_lookup_progress", {"lookup_id": UNKNOWN_ID, "wait_seconds": 10})
    assert "404 NOT_FOUND" in error
    assert sleeps == []


async def test_get_number_lookup_with_results(client: Client, sandbox_app: Any) -> None:
    lookup_id = await start_async(client, 120)
    sandbox_app.state.sandbox.clock.advance(10)
    out = await call_ok(client, "get_number_lookup", {"lookup_id": lookup_id})
    data = out["data"]
    assert out["workspace"] == SANDBOX_PERSONAL
    assert data["status"] == "done" and len(data["result"]["onWhatsApp"]) == 60
    assert "truncated" not in data
    assert out["summary"] == f"Lookup {lookup_id} done: 60 on WhatsApp, 60 not, 0 invalid"


async def test_large_results_are_truncated_with_a_note(client: Client, sandbox_app: Any) -> None:
    lookup_id = await start_async(client, 700)
    sandbox_app.state.sandbox.clock.advance(60)
    out = await call_ok(client, "get_number_lookup", {"lookup_id": lookup_id})
    data = out["data"]
    assert data["truncated"] is True
    assert len(data["result"]["onWhatsApp"]) == lookups.MAX_SHOWN
    assert data["onWhatsAppCount"] == 350  # the counts stay exact
    assert "onWhatsApp: first 250 of 350" in out["summary"] and "import_lookup_contacts" in out["summary"]


async def test_get_unknown_lookup(client: Client) -> None:
    error = await call_error(client, "get_number_lookup", {"lookup_id": UNKNOWN_ID})
    assert "404 NOT_FOUND" in error and "list the collection" in error


async def test_lookups_are_per_workspace(client: Client) -> None:
    out = await call_ok(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": ["+33612345000"]})
    error = await call_error(client, "get_number_lookup", {"lookup_id": out["data"]["lookupId"], "workspace": TEAM_NAME})
    assert "404 NOT_FOUND" in error


# ------------------------------------------------------------------------------------------ cancel / import


async def test_cancel_a_running_lookup(client: Client, ledger: Ledger) -> None:
    lookup_id = await start_async(client, 500)
    before = len(mutations(ledger()))
    out = await call_ok(client, "cancel_number_lookup", {"lookup_id": lookup_id})
    assert out["status"] == "ok" and out["workspace"] == SANDBOX_PERSONAL
    assert out["data"]["status"] == "cancelled" and out["data"]["completedAt"]
    assert out["summary"] == f"Lookup {lookup_id} cancelled"
    assert len(mutations(ledger())) == before + 1
    again = await call_error(client, "cancel_number_lookup", {"lookup_id": lookup_id})
    assert "400 BAD_REQUEST" in again and "already cancelled" in again


async def test_cancel_validation_and_unknown(client: Client, ledger: Ledger) -> None:
    await call_error(client, "cancel_number_lookup", {"lookup_id": "lookup_123"})
    assert ledger() == []
    error = await call_error(client, "cancel_number_lookup", {"lookup_id": UNKNOWN_ID})
    assert "404 NOT_FOUND" in error


async def test_import_found_numbers_as_tagged_contacts(client: Client, ledger: Ledger) -> None:
    new = ["+33699000002", "+33699000004", "+33699000005"]
    out = await call_ok(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": ["+33612345000", *new]})
    lookup_id = out["data"]["lookupId"]
    imported = await call_ok(client, "import_lookup_contacts", {"lookup_id": lookup_id, "tag": "verified-whatsapp"})
    data = imported["data"]
    assert imported["workspace"] == SANDBOX_PERSONAL
    assert (data["imported"], data["alreadyExisting"], data["skipped"]) == (2, 1, 1)
    assert imported["summary"] == (
        f"Imported contacts from lookup {lookup_id}: 2 imported, 1 skipped, 1 alreadyExisting (tag 'verified-whatsapp')"
    )
    assert ledger()[-1]["committed"] is True


async def test_import_tags_existing_contacts(client: Client, sandbox_app: Any) -> None:
    out = await call_ok(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": ["+33612345000"]})
    await call_ok(client, "import_lookup_contacts", {"lookup_id": out["data"]["lookupId"], "tag": "wa-ok"})
    row = sandbox_app.state.sandbox.db.execute("SELECT data FROM contacts WHERE id = ?", (AWA_CONTACT_ID,)).fetchone()
    assert '"wa-ok"' in row["data"]


async def test_import_without_tag(client: Client) -> None:
    out = await call_ok(client, "start_number_lookup", {"instance_id": INSTANCE, "numbers": ["+33699000012"]})
    imported = await call_ok(client, "import_lookup_contacts", {"lookup_id": out["data"]["lookupId"]})
    assert imported["data"]["imported"] == 1 and imported["data"]["tag"] is None
    assert "tag" not in imported["summary"]


@pytest.mark.parametrize("args", [{"lookup_id": UNKNOWN_ID, "tag": ""}, {"lookup_id": UNKNOWN_ID, "tag": "x" * 51}])
async def test_import_validation_sends_nothing(client: Client, ledger: Ledger, args: dict[str, Any]) -> None:
    await call_error(client, "import_lookup_contacts", args)
    assert ledger() == []


async def test_import_unknown_lookup(client: Client) -> None:
    error = await call_error(client, "import_lookup_contacts", {"lookup_id": UNKNOWN_ID, "tag": "x"})
    assert "404 NOT_FOUND" in error


async def test_lookup_writes_read_nothing_before_their_one_request(client: Client, ledger: Ledger) -> None:
    """Unguarded writes plan from their arguments alone: each call is exactly its one planned request."""
    lookup_id = await start_async(client, 150)
    calls = [
        ("cancel_number_lookup", {"lookup_id": lookup_id}, ("POST", f"/api/v1/number-lookups/{lookup_id}/cancel")),
        ("import_lookup_contacts", {"lookup_id": lookup_id, "tag": "x"},
         ("POST", f"/api/v1/number-lookups/{lookup_id}/import-contacts")),
    ]
    for tool, args, request in calls:
        before = len(ledger())
        await client.call_tool(tool, args)  # importing a cancelled lookup is the API's to refuse
        assert [(e["method"], e["path"]) for e in ledger()[before:]] == [request], tool


async def test_write_tools_need_no_confirmation(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name in ("start_number_lookup", "cancel_number_lookup", "import_lookup_contacts"):
        assert "confirm_token" not in tools[name].input_schema["properties"], name
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is False and annotations.destructive_hint is False
    for name in ("list_number_lookups", "get_number_lookup", "get_number_lookup_progress"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True
