"""messages toolset: guarded sends (token path, previews), validation before any request, retry safety."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.faults import FaultRule
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PERSONAL_DISCONNECTED_INSTANCE_ID,
    PROMO_TEMPLATE_ID,
    WELCOME_TEMPLATE_ID,
)
from msgflash_mcp.server.app import build_server

from tests.conftest import call_error, call_ok, link_urls, make_settings, mutations
from tests.fake_time import FakeClock

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
SANDBOX_PERSONAL = "personal (sandbox)"
INSTANCE = PERSONAL_CONNECTED_INSTANCE_ID
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"
AWA = "+33612345000"
SEND = "/api/v1/messages/send"


@pytest.fixture
def sandbox_app(still_sandbox_app: Any) -> Any:
    """The sandbox on the tests' clock (tests/conftest.py `clock`), which `shared_clock` gives the server too."""
    return still_sandbox_app


@pytest.fixture
def shared_clock(server: MCPServer[Any], clock: FakeClock) -> FakeClock:
    """The server's one clock is the sandbox's, so advancing simulated time moves both sides."""
    server.runtime.clock = clock  # type: ignore[attr-defined]
    return clock


def text_message(**extra: Any) -> dict[str, Any]:
    return {"instance_id": INSTANCE, "to": AWA, "type": "text", "text": "Bonjour Awa", **extra}


async def confirmed(client: Client, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two-step token path: (first answer with the preview, second answer after confirming)."""
    first = await call_ok(client, tool, args)
    assert first["status"] == "confirmation_required", first
    second = await call_ok(client, tool, {**args, "confirm_token": first["confirm_token"]})
    return first, second


def sends(entries: list[dict[str, Any]], path: str = SEND) -> list[dict[str, Any]]:
    return [e for e in entries if e["method"] == "POST" and e["path"] == path]


# ------------------------------------------------------------------------------- send_message


async def test_send_needs_confirmation_then_sends_exactly_once(client: Client, ledger: Ledger) -> None:
    args = text_message(text="Votre commande est prête : https://shop.example.com/o/42.")
    first = await call_ok(client, "send_message", args)
    assert first["status"] == "confirmation_required"
    assert first["workspace"] == SANDBOX_PERSONAL
    preview = first["preview"]
    assert preview["action"] == f"Send a text message to {AWA}"
    assert preview["who"]["count"] == 1
    assert preview["what"]["text"] == "Votre commande est prête : https://shop.example.com/o/42."
    assert link_urls(preview) == ["https://shop.example.com/o/42"]
    assert preview["instance"]["name"] == "boutique-principale" and preview["instance"]["state"] == "connected"
    assert "risk" not in preview
    assert mutations(ledger()) == [] and sends(ledger()) == []

    second = await call_ok(client, "send_message", {**args, "confirm_token": first["confirm_token"]})
    assert second["status"] == "ok" and second["workspace"] == SANDBOX_PERSONAL
    data = second["data"]
    assert data["to"] == AWA and data["type"] == "text" and data["status"] == "queued"
    assert data["body"] == args["text"] and data["instanceId"] == INSTANCE
    assert second["summary"] == f"Message queued to {AWA}, id {data['id']}"
    [sent] = sends(ledger())
    assert sent["committed"] and sent["object_id"] == data["id"]

    # The same token again: the first result, marked replayed; nothing reaches the API.
    before = len(ledger())
    third = await call_ok(client, "send_message", {**args, "confirm_token": first["confirm_token"]})
    assert third["status"] == "replayed"
    assert third["data"]["id"] == data["id"]
    assert len(ledger()) == before
    assert len(sends(ledger())) == 1


async def test_token_is_bound_to_the_previewed_arguments(client: Client, ledger: Ledger) -> None:
    first = await call_ok(client, "send_message", text_message())
    text = await call_error(
        client, "send_message", text_message(text="Autre chose", confirm_token=first["confirm_token"])
    )
    assert "different arguments" in text
    assert sends(ledger()) == []


async def test_disconnected_instance_is_flagged_in_the_preview(client: Client, ledger: Ledger) -> None:
    first = await call_ok(client, "send_message", text_message(instance_id=PERSONAL_DISCONNECTED_INSTANCE_ID))
    preview = first["preview"]
    assert preview["instance"]["name"].startswith("support-ancien") and preview["instance"]["state"] == "disconnected"
    assert preview["risk"] == [
        "instance support-ancien is disconnected: it will not be delivered until it is reconnected in the dashboard"
    ]
    assert mutations(ledger()) == []


async def test_template_preview_renders_with_the_recipients_contact(client: Client, ledger: Ledger) -> None:
    args = {"instance_id": INSTANCE, "to": AWA, "template_id": WELCOME_TEMPLATE_ID}
    first = await call_ok(client, "send_message", args)
    preview = first["preview"]
    assert preview["action"] == f"Send a template message to {AWA}"
    assert preview["what"]["template"] == "Bienvenue (text)"
    assert preview["what"]["text"] == "Bonjour Awa, bienvenue chez boutique-principale !"
    assert "risk" not in preview
    # The template preview route is a POST but a read in effect: nothing was committed.
    assert mutations(ledger()) == []
    second = await call_ok(client, "send_message", {**args, "confirm_token": first["confirm_token"]})
    assert second["data"]["body"] == preview["what"]["text"]


async def test_template_with_a_missing_custom_variable_warns(client: Client) -> None:
    args = {"instance_id": INSTANCE, "to": AWA, "template_id": PROMO_TEMPLATE_ID}
    preview = (await call_ok(client, "send_message", args))["preview"]
    assert preview["what"]["text"] == "Hello Awa, utilisez {{custom.code}}."
    [warning] = preview["risk"]
    assert "custom.code" in warning and "TEMPLATE_VARIABLES_MISSING" in warning and '"code"' in warning

    filled = (await call_ok(client, "send_message", {**args, "variables": {"code": "VIP10"}}))["preview"]
    assert filled["what"]["text"] == "Hello Awa, utilisez VIP10."
    assert "risk" not in filled


async def test_buttons_preview_lists_labels_and_every_link(client: Client, ledger: Ledger) -> None:
    args = {
        "instance_id": INSTANCE,
        "to": AWA,
        "type": "buttons",
        "title": "Rendez-vous",
        "description": "Confirmez ici ou voyez https://rdv.example.com/faq",
        "footer": "Boutique",
        "buttons": [
            {"type": "reply", "display_text": "Confirmer", "id": "confirm"},
            {"type": "url", "display_text": "Site", "url": "https://rdv.example.com/"},
        ],
    }
    first, second = await confirmed(client, "send_message", args)
    preview = first["preview"]
    assert preview["what"]["buttons"] == [
        {"type": "reply", "label": "Confirmer", "target": "reply confirm"},
        {"type": "url", "label": "Site", "target": "https://rdv.example.com/"},
    ]
    assert link_urls(preview) == ["https://rdv.example.com/", "https://rdv.example.com/faq"]
    assert preview["what"]["text"] == args["description"]
    content = second["data"]["meta"]["content"]
    # snake_case arguments reach the API camelCased.
    assert content["buttons"][0] == {"type": "reply", "displayText": "Confirmer", "id": "confirm"}
    assert len(sends(ledger())) == 1


async def test_media_and_contact_card_previews(client: Client) -> None:
    image = {"instance_id": INSTANCE, "to": AWA, "type": "image", "media_url": "https://cdn.example.com/a.jpg"}
    preview = (await call_ok(client, "send_message", image))["preview"]
    assert preview["what"]["media"] == "https://cdn.example.com/a.jpg" and link_urls(preview) == [image["media_url"]]

    card = {"instance_id": INSTANCE, "to": "+33612345001", "type": "contact", "contact_id": AWA_CONTACT_ID}
    preview = (await call_ok(client, "send_message", card))["preview"]
    assert preview["what"]["card"] == {"id": AWA_CONTACT_ID, "name": "Awa Diop", "phone": AWA}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (text_message(to="+3361234"), "E.164"),
        (text_message(to="0612345678"), "E.164"),
        (
            {
                "instance_id": INSTANCE,
                "to": AWA,
                "type": "buttons",
                "title": "t",
                "description": "d",
                "buttons": [{"type": "reply", "display_text": f"B{i}", "id": f"b{i}"} for i in range(3)],
            },
            "at most 2",
        ),
        (text_message(template_id=WELCOME_TEMPLATE_ID), "pass either type or template_id, not both"),
        ({"instance_id": INSTANCE, "to": AWA, "type": "text"}, "type=text needs text"),
        ({"instance_id": INSTANCE, "to": AWA}, "pass type (direct content) or template_id"),
        ({"instance_id": INSTANCE, "to": AWA, "type": "image"}, "type=image needs media_url"),
        ({"instance_id": INSTANCE, "to": AWA, "type": "location", "latitude": 48.8}, "needs longitude"),
        (text_message(latitude=91.0), "latitude"),
        (text_message(media_url="https://cdn.example.com/a.jpg"), "media_url not used with type=text"),
        (
            {"instance_id": INSTANCE, "to": AWA, "template_id": PROMO_TEMPLATE_ID, "text": "x"},
            "text cannot be combined with template_id",
        ),
        (text_message(variables={"code": "X"}), "variables only apply with template_id"),
        (
            {"instance_id": INSTANCE, "to": AWA, "template_id": PROMO_TEMPLATE_ID, "variables": {"custom.code": "X"}},
            "without the prefix",
        ),
        (
            {
                "instance_id": INSTANCE,
                "to": AWA,
                "type": "buttons",
                "title": "t",
                "description": "d",
                "buttons": [{"type": "call", "display_text": "Appeler"}],
            },
            "`buttons[0].call.phone_number` is required",  # each kind is its own model
        ),
        (
            {
                "instance_id": INSTANCE,
                "to": AWA,
                "type": "buttons",
                "title": "t",
                "description": "d",
                "buttons": [{"type": "reply", "display_text": "Oui", "id": "yes", "url": "https://x.example.com"}],
            },
            "`buttons[0].reply.url` is not an argument",
        ),
        (
            {
                "instance_id": INSTANCE,
                "to": AWA,
                "type": "buttons",
                "title": "t",
                "description": "d",
                "buttons": [{"type": "vote", "display_text": "Oui"}],
            },
            "'reply', 'url', 'call', 'copy', 'pix'",
        ),
        (
            {
                "instance_id": INSTANCE,
                "to": AWA,
                "type": "buttons",
                "title": "t",
                "description": "d",
                "buttons": [{"type": "call", "display_text": "Appeler", "phone_number": "12"}],
            },
            "buttons[0].phone_number must be E.164",
        ),
        (
            {
                "instance_id": INSTANCE,
                "to": AWA,
                "type": "buttons",
                "title": "t",
                "description": "d",
                "buttons": [{"type": "url", "display_text": "Site", "url": "javascript:alert(1)"}],
            },
            "buttons[0].url must be a public http(s) URL",
        ),
        ({**text_message(), "instance_id": "not-a-uuid"}, "instance_id"),
    ],
)
async def test_invalid_arguments_fail_readably_before_any_request(
    client: Client, ledger: Ledger, args: dict[str, Any], expected: str
) -> None:
    text = await call_error(client, "send_message", args)
    assert expected in text
    assert ledger() == []


async def test_unknown_instance_fails_in_the_preview_and_sends_nothing(client: Client, ledger: Ledger) -> None:
    text = await call_error(client, "send_message", text_message(instance_id=UNKNOWN_ID))
    assert "nothing was sent" in text and "NOT_FOUND" in text and "list the collection" in text
    assert mutations(ledger()) == []


# --------------------------------------------------------------------------- schedule_message


async def test_schedule_previews_utc_time_and_schedules(client: Client, ledger: Ledger) -> None:
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    local = when.astimezone(timezone(timedelta(hours=2)))
    args = text_message(scheduled_at=local.isoformat())
    first, second = await confirmed(client, "schedule_message", args)
    expected = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert first["preview"]["action"] == f"Schedule a text message to {AWA}"
    assert first["preview"]["when"] == {"utc": expected, "repeat": "none"}  # no timezone given: UTC only
    data = second["data"]
    assert data["status"] == "scheduled" and data["scheduledAt"] == expected
    assert second["summary"] == f"Message to {AWA} scheduled for {expected} (UTC), id {data['id']}"
    assert len(sends(ledger(), "/api/v1/messages/schedule")) == 1


async def test_schedule_in_the_past_is_refused_before_any_request(client: Client, ledger: Ledger) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    text = await call_error(client, "schedule_message", text_message(scheduled_at=past))
    assert "is in the past" in text and "nothing was sent" in text
    naive = await call_error(client, "schedule_message", text_message(scheduled_at="2031-01-01T10:00:00"))
    assert "timezone" in naive.lower()
    assert ledger() == []


# ------------------------------------------------------------------------- retry safety (issue 6)


async def test_lost_response_is_reconciled_not_resent(client: Client, ledger: Ledger, sandbox_app: Any) -> None:
    args = text_message(text="Colis expédié")
    first = await call_ok(client, "send_message", args)
    sandbox_app.state.sandbox.faults.add([FaultRule(action="drop_after_commit", method="POST", path=SEND)])
    second = await call_ok(client, "send_message", {**args, "confirm_token": first["confirm_token"]})
    assert second["status"] == "ok"
    assert "recovered after a lost response" in second["summary"] and "not twice" in second["summary"]
    data = second["data"]
    assert data["to"] == AWA and data["body"] == "Colis expédié"
    [sent] = sends(ledger())
    assert sent["committed"] and sent["object_id"] == data["id"]
    # The previews' inbound-risk reads (status=received) are not reconciliation reads.
    history = [e for e in ledger() if e["method"] == "GET" and e["path"] == "/api/v1/messages"
               and "status=received" not in e["query"]]
    assert len(history) == 1 and f"instanceId={INSTANCE}" in history[0]["query"]


class UnreadableAnswer(httpx2.AsyncBaseTransport):
    """The sandbox, behind a proxy that mangles the body of one route's answers (status kept)."""

    def __init__(self, app: Any, method: str, path: str) -> None:
        self._inner = sandbox_transport(app)
        self._method, self._path = method, path

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if (request.method, request.url.path) != (self._method, self._path):
            return response
        await response.aread()
        return httpx2.Response(response.status_code, content=b"<html>upstream says hi</html>", request=request)


async def test_an_accepted_send_with_an_unreadable_answer_is_reconciled_not_a_failure(
    sandbox_app: Any, ledger: Ledger
) -> None:
    """A 2xx the parser rejects was still done: the send is found in the history, never reported as failed."""
    transport = UnreadableAnswer(sandbox_app, "POST", SEND)
    server = build_server(make_settings(confirm="off"), http_transport=transport, sandbox_app=sandbox_app)
    async with Client(server) as client:
        out = await call_ok(client, "send_message", text_message(text="Colis expédié"))
    assert "recovered after a lost response" in out["summary"]
    [sent] = sends(ledger())
    assert sent["committed"] and sent["object_id"] == out["data"]["id"]


async def test_an_accepted_write_with_an_unreadable_answer_says_check_before_retrying(sandbox_app: Any) -> None:
    transport = UnreadableAnswer(sandbox_app, "POST", "/api/v1/contacts")
    server = build_server(make_settings(), http_transport=transport, sandbox_app=sandbox_app)
    async with Client(server) as client:
        text = await call_error(client, "create_contact", {"name": "Zoé", "phone": "+33698761234"})
    assert "outcome unknown: POST /api/v1/contacts was accepted (HTTP 201)" in text
    assert "most likely done" in text and "Do NOT simply retry" in text and "read the object back" in text


async def test_unknown_outcome_without_a_match_tells_the_model_what_to_check(
    client: Client, ledger: Ledger, sandbox_app: Any
) -> None:
    args = text_message(text="Jamais arrivé")
    first = await call_ok(client, "send_message", args)
    # A 500 before anything was committed: the message does not exist, but we cannot know that.
    sandbox_app.state.sandbox.faults.add([FaultRule(action="status", method="POST", path=SEND, status=500)])
    text = await call_error(client, "send_message", {**args, "confirm_token": first["confirm_token"]})
    assert "outcome unknown" in text and "Do NOT simply retry" in text
    assert f"list_messages with instance_id={INSTANCE}" in text and AWA in text
    assert len(sends(ledger())) == 1 and mutations(ledger()) == []


async def test_older_identical_message_is_not_taken_for_the_lost_one(
    client: Client, ledger: Ledger, sandbox_app: Any, shared_clock: FakeClock
) -> None:
    sandbox = sandbox_app.state.sandbox
    args = text_message(text="Rappel")
    _, sent = await confirmed(client, "send_message", args)
    shared_clock.advance(3600)  # the identical message is an hour old now
    again = await call_ok(client, "send_message", args)
    sandbox.faults.add([FaultRule(action="status", method="POST", path=SEND, status=503)])
    text = await call_error(client, "send_message", {**args, "confirm_token": again["confirm_token"]})
    assert "no matching message" in text
    assert sent["data"]["id"] not in text


async def test_lost_schedule_response_is_reconciled(client: Client, ledger: Ledger, sandbox_app: Any) -> None:
    when = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0).isoformat()
    args = text_message(scheduled_at=when, text="Demain 10h")
    first = await call_ok(client, "schedule_message", args)
    path = "/api/v1/messages/schedule"
    sandbox_app.state.sandbox.faults.add([FaultRule(action="after_commit", method="POST", path=path, status=502)])
    second = await call_ok(client, "schedule_message", {**args, "confirm_token": first["confirm_token"]})
    assert "recovered after a lost response" in second["summary"]
    assert second["data"]["status"] == "scheduled"
    assert len(sends(ledger(), path)) == 1


# ----------------------------------------------------------------------------------- reads


async def test_list_messages_pages_and_filters(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "list_messages", {"instance_id": INSTANCE, "limit": 3})
    assert out["status"] == "ok" and out["workspace"] == SANDBOX_PERSONAL
    assert len(out["data"]["messages"]) == 3 and out["next_cursor"]
    assert out["summary"] == "3 message(s) (more available)"
    assert all(m["instanceId"] == INSTANCE for m in out["data"]["messages"])
    rest = await call_ok(client, "list_messages", {"instance_id": INSTANCE, "limit": 100, "cursor": out["next_cursor"]})
    ids = {m["id"] for m in out["data"]["messages"]}
    assert ids.isdisjoint(m["id"] for m in rest["data"]["messages"])
    scheduled = await call_ok(client, "list_messages", {"status": "scheduled"})
    assert [m["status"] for m in scheduled["data"]["messages"]] == ["scheduled"]
    assert "note" in out  # message bodies are third-party text
    assert mutations(ledger()) == []


async def test_list_messages_rejects_an_unknown_status_before_any_request(client: Client, ledger: Ledger) -> None:
    text = await call_error(client, "list_messages", {"status": "lost"})
    assert "status" in text
    assert ledger() == []


async def test_get_message(client: Client) -> None:
    listed = await call_ok(client, "list_messages", {"limit": 1})
    mid = listed["data"]["messages"][0]["id"]
    out = await call_ok(client, "get_message", {"message_id": mid})
    assert out["data"]["id"] == mid and out["workspace"] == SANDBOX_PERSONAL
    assert out["summary"].startswith(f"Message {mid} to +")


async def test_get_unknown_message_is_a_readable_not_found(client: Client) -> None:
    text = await call_error(client, "get_message", {"message_id": UNKNOWN_ID})
    assert "404 NOT_FOUND" in text and "list the collection" in text


async def test_team_workspace_sends_with_the_team_key(client: Client, ledger: Ledger) -> None:
    from msgflash_mcp.sandbox.keys import TEAM_ID
    from msgflash_mcp.sandbox.seed import TEAM_INSTANCE_ID

    args = {
        "instance_id": TEAM_INSTANCE_ID,
        "to": "+221771234500",
        "type": "text",
        "text": "Salut",
        "workspace": "sandbox-team",
    }
    first, second = await confirmed(client, "send_message", args)
    assert first["workspace"] == second["workspace"] and "sandbox-team" in second["workspace"]
    [sent] = sends(ledger())
    assert sent["key_kind"] == "team" and sent["team_id"] == TEAM_ID


async def test_schedule_shows_local_time_in_the_given_zone_outside_the_digest(client: Client) -> None:
    when = (datetime.now(UTC) + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    args = text_message(scheduled_at=when.isoformat())
    plain = await client.call_tool("schedule_message", args)
    zoned = await client.call_tool("schedule_message", {**args, "timezone": "Asia/Tokyo"})
    plain_preview, zoned_preview = plain.structured_content["preview"], zoned.structured_content["preview"]
    assert zoned_preview["when"]["local"].endswith("17:00 (Asia/Tokyo)")
    assert "local" not in plain_preview["when"]
    assert zoned_preview["digest"] == plain_preview["digest"]  # the shown zone does not change what is sent
    bad = await client.call_tool("schedule_message", {**args, "timezone": "Mars/Base"})
    assert bad.is_error and "IANA" in str(bad.content)


async def test_schedule_warns_only_about_an_identical_message_to_the_same_number(client: Client) -> None:
    when = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    base = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "type": "text", "scheduled_at": when}
    same = await client.call_tool("schedule_message", {**base, "to": "+33612345003", "text": "Rappel : soldes privées demain."})
    other_text = await client.call_tool("schedule_message", {**base, "to": "+33612345003", "text": "Autre chose"})
    other_number = await client.call_tool("schedule_message", {**base, "to": AWA, "text": "Rappel : soldes privées demain."})
    risks = [(r.structured_content or {})["preview"].get("risk") or [] for r in (same, other_text, other_number)]
    assert any("already scheduled" in line for line in risks[0])
    assert not any("already scheduled" in line for line in risks[1] + risks[2])


async def test_send_preview_names_the_contact_and_the_quota(client: Client) -> None:
    known = (await client.call_tool("send_message", text_message())).structured_content or {}
    unknown = (await client.call_tool("send_message", text_message(to="+33699999999"))).structured_content or {}
    assert known["preview"]["contact"] == '"Awa Diop"'
    assert unknown["preview"]["contact"] == "no contact has this number"
    cost = known["preview"]["cost"]
    assert cost["quota_after"] == cost["quota_before"] - 1
