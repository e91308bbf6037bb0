"""webhooks toolset: list, create (ADMIN: preview warns where events will stream; secret shown once), delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from mcp import Client
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import PERSONAL_KEY
from msgflash_mcp.sandbox.seed import DEMO_WEBHOOK_ID
from msgflash_mcp.server.app import build_server

from tests.conftest import call_error, call_ok, link_urls, make_settings, mutations

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
SANDBOX_PERSONAL = "personal (sandbox)"
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"
HOOK_URL = "https://hooks.example.org/msgflash"


async def test_list_webhooks_never_shows_a_secret(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "list_webhooks")
    assert out["status"] == "ok" and out["workspace"] == SANDBOX_PERSONAL
    [hook] = out["data"]
    assert hook["id"] == DEMO_WEBHOOK_ID and hook["url"] == "https://example.com/webhooks/msgflash"
    assert "secret" not in hook
    assert out["summary"] == "1 webhook(s): example.com"
    assert mutations(ledger()) == []


async def test_create_webhook_previews_the_host_then_returns_the_secret_once(client: Client, ledger: Ledger) -> None:
    args = {"url": HOOK_URL, "events": ["message.received", "message.failed"]}
    first = await call_ok(client, "create_webhook", args)
    assert first["status"] == "confirmation_required" and first["workspace"] == SANDBOX_PERSONAL
    preview = first["preview"]
    assert preview["action"] == "Create a webhook sending events to hooks.example.org"
    assert preview["url"] == HOOK_URL and preview["host"] == "hooks.example.org"
    assert preview["events"] == ["message.received", "message.failed"]
    assert link_urls(preview) == [HOOK_URL]
    [warning] = preview["risk"]
    assert "every future message.received, message.failed event" in warning and "hooks.example.org" in warning
    assert mutations(ledger()) == []

    second = await call_ok(client, "create_webhook", {**args, "confirm_token": first["confirm_token"]})
    assert second["status"] == "ok"
    data = second["data"]
    assert data["secret"].startswith("whsec_") and data["url"] == HOOK_URL
    assert second["summary"] == (
        f"Webhook {data['id']} created for hooks.example.org: store the secret now; it is never shown again"
    )
    created = [e for e in mutations(ledger()) if e["path"] == "/api/v1/webhooks"]
    assert len(created) == 1
    listed = await call_ok(client, "list_webhooks")
    assert {h["id"] for h in listed["data"]} == {DEMO_WEBHOOK_ID, data["id"]}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"url": "http://hooks.example.org/x", "events": ["message.sent"]}, "url"),
        ({"url": "ftp://hooks.example.org/x", "events": ["message.sent"]}, "url"),
        ({"url": HOOK_URL, "events": []}, "events"),
        (
            {"url": HOOK_URL, "events": ["message.sent", "message.sent"]},
            "list each event once (repeated: message.sent)",
        ),
        ({"url": HOOK_URL, "events": ["message.opened"]}, "events"),
    ],
)
async def test_invalid_webhooks_fail_before_any_request(
    client: Client, ledger: Ledger, args: dict[str, Any], expected: str
) -> None:
    text = await call_error(client, "create_webhook", args)
    assert expected in text
    assert ledger() == []


async def test_delete_webhook_previews_what_goes_away_then_deletes_once(client: Client, ledger: Ledger) -> None:
    args = {"webhook_id": DEMO_WEBHOOK_ID}
    first = await call_ok(client, "delete_webhook", args)
    assert first["status"] == "confirmation_required"
    preview = first["preview"]
    assert preview["action"] == "Delete the webhook to example.com"
    assert preview["url"] == "https://example.com/webhooks/msgflash"
    assert preview["events"] == ["message.delivered", "message.failed"]
    assert mutations(ledger()) == []

    second = await call_ok(client, "delete_webhook", {**args, "confirm_token": first["confirm_token"]})
    assert second["status"] == "ok" and second["workspace"] == SANDBOX_PERSONAL
    assert second["summary"] == f"Webhook {DEMO_WEBHOOK_ID} deleted"
    deletes = [e for e in ledger() if e["method"] == "DELETE"]
    assert len(deletes) == 1 and deletes[0]["committed"]
    assert (await call_ok(client, "list_webhooks"))["data"] == []

    replay = await call_ok(client, "delete_webhook", {**args, "confirm_token": first["confirm_token"]})
    assert replay["status"] == "replayed"
    assert len([e for e in ledger() if e["method"] == "DELETE"]) == 1


async def test_delete_unknown_webhook_is_refused_in_the_preview(client: Client, ledger: Ledger) -> None:
    text = await call_error(client, "delete_webhook", {"webhook_id": UNKNOWN_ID})
    assert f"no webhook {UNKNOWN_ID}" in text and "list_webhooks" in text and "nothing was deleted" in text
    assert mutations(ledger()) == []
    assert [e for e in ledger() if e["method"] == "DELETE"] == []


async def test_webhooks_in_the_team_workspace(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "list_webhooks", {"workspace": "sandbox-team"})
    assert out["data"] == [] and "sandbox-team" in out["workspace"]
    assert ledger()[-1]["key_kind"] == "team"


async def test_create_webhook_warns_about_an_existing_one_to_the_same_url(client: Client, ledger: Ledger) -> None:
    same = await call_ok(client, "create_webhook", {"url": "https://example.com/webhooks/msgflash", "events": ["message.sent"]})
    assert any(DEMO_WEBHOOK_ID in risk and "same URL" in risk for risk in same["preview"]["risk"])
    other = await call_ok(client, "create_webhook", {"url": HOOK_URL, "events": ["message.sent"]})
    assert not any("same URL" in risk for risk in other["preview"]["risk"])
    assert same["preview"]["digest"] != other["preview"]["digest"]
    assert mutations(ledger()) == []


async def test_confirmed_delete_sends_the_planned_request_with_the_planned_key(client: Client, ledger: Ledger) -> None:
    """The one DELETE the ledger records is the plan's: this webhook's path, the personal workspace's key."""
    first = await call_ok(client, "delete_webhook", {"webhook_id": DEMO_WEBHOOK_ID})
    await call_ok(client, "delete_webhook", {"webhook_id": DEMO_WEBHOOK_ID, "confirm_token": first["confirm_token"]})
    [delete] = [e for e in ledger() if e["method"] == "DELETE"]
    assert (delete["path"], delete["key_kind"], delete["team_id"], delete["committed"]) == (
        f"/api/v1/webhooks/{DEMO_WEBHOOK_ID}", "personal", None, True)


async def test_a_webhook_gone_before_the_confirmation_is_not_deleted_again(
    client: Client, ledger: Ledger, sandbox_app: Any
) -> None:
    """The plan is rebuilt from live data before the write: an endpoint removed meanwhile (dashboard)
    makes the confirmed call a readable refusal, and no DELETE leaves."""
    first = await call_ok(client, "delete_webhook", {"webhook_id": DEMO_WEBHOOK_ID})
    async with httpx2.AsyncClient(transport=sandbox_transport(sandbox_app), base_url="http://sandbox.invalid") as http:
        gone = await http.delete(f"/api/v1/webhooks/{DEMO_WEBHOOK_ID}", headers={"x-api-key": PERSONAL_KEY})
        assert gone.status_code < 300, gone.text
    before = len([e for e in ledger() if e["method"] == "DELETE"])
    text = await call_error(client, "delete_webhook",
                            {"webhook_id": DEMO_WEBHOOK_ID, "confirm_token": first["confirm_token"]})
    assert f"no webhook {DEMO_WEBHOOK_ID}" in text and "nothing was deleted" in text
    assert len([e for e in ledger() if e["method"] == "DELETE"]) == before


async def test_a_webhook_outside_the_url_allowlist_can_still_be_deleted(sandbox_app: Any, ledger: Ledger) -> None:
    """Removing an endpoint only stops data flowing: its URL is shown, not judged by the URL policy."""
    async with Client(build_server(make_settings(url_allowlist="shop.example"), sandbox_app=sandbox_app)) as client:
        first = await call_ok(client, "delete_webhook", {"webhook_id": DEMO_WEBHOOK_ID})
        assert first["status"] == "confirmation_required" and link_urls(first["preview"]) == []
        done = await call_ok(client, "delete_webhook",
                             {"webhook_id": DEMO_WEBHOOK_ID, "confirm_token": first["confirm_token"]})
    assert done["status"] == "ok"
    assert [e["path"] for e in mutations(ledger())] == [f"/api/v1/webhooks/{DEMO_WEBHOOK_ID}"]
