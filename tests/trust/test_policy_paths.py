"""Policies hold on every sending path (issue 11 part 4), through a real MCP client against the sandbox,
with its ledger as the referee: a refused call leaves no write, whatever anyone would confirm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import (
    PERSONAL_CONNECTED_INSTANCE_ID,
    PERSONAL_CONTACTS,
    SCHEDULED_CAMPAIGN_ID,
    VIP_GROUP_ID,
    WELCOME_TEMPLATE_ID,
    contact_id,
)
from msgflash_mcp.server.app import build_server

from tests.conftest import call_error, call_ok, make_settings

from .requirements import requirement

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
INSTANCE = PERSONAL_CONNECTED_INSTANCE_ID
ALLOWED = ["+33612345000", "+33612345003"]  # Awa Diop and Jean Martin (both tagged vip)


def writes(ledger: Ledger) -> list[dict[str, Any]]:
    return [e for e in ledger() if e["method"] != "GET"]


def campaign(**recipients: Any) -> dict[str, Any]:
    return {"instance_id": INSTANCE, "name": "Soldes", "schedule": "2031-01-01T10:00:00+00:00", "type": "text",
            "body": "Promo", **recipients}


def client_for(sandbox_app: Any, **settings: Any) -> Client:
    return Client(build_server(make_settings(**settings), sandbox_app=sandbox_app))


@requirement("policy.every-path")
@pytest.mark.parametrize(
    "recipients",
    [
        {"recipients_type": "all"},
        {"recipients_type": "tags", "tags": ["vip"]},
        {"recipients_type": "group", "group_id": VIP_GROUP_ID},
        {"recipients_type": "explicit", "contact_ids": [contact_id("+33612345000"), contact_id("+33612345001")]},
    ],
    ids=["all", "tags", "group", "explicit"],
)
async def test_recipient_allowlist_refuses_campaigns_of_every_selector(
    recipients: dict[str, Any], sandbox_app: Any, ledger: Ledger
) -> None:
    """Every selector here reaches someone outside the allow-list (the VIP group has 5 members, 2 allowed)."""
    async with client_for(sandbox_app, recipient_allowlist=ALLOWED) as client:
        text = await call_error(client, "create_campaign", campaign(**recipients))
    assert "refused by policy" in text and "MSGFLASH_RECIPIENT_ALLOWLIST" in text
    assert writes(ledger) == []


@requirement("policy.every-path")
async def test_resume_campaign_is_held_to_the_allowlist(sandbox_app: Any, ledger: Ledger) -> None:
    """The seeded scheduled campaign goes to the newsletter tag, nobody of which is allowed: once paused,
    resuming it is refused before anyone is asked."""
    async with client_for(sandbox_app, recipient_allowlist=ALLOWED) as client:
        await call_ok(client, "pause_campaign", {"campaign_id": SCHEDULED_CAMPAIGN_ID})
        before = writes(ledger)
        text = await call_error(client, "resume_campaign", {"campaign_id": SCHEDULED_CAMPAIGN_ID})
    assert "refused by policy" in text
    assert writes(ledger) == before  # only the pause


@requirement("policy.every-path")
async def test_statuses_are_refused_under_an_allowlist_unless_allowed(sandbox_app: Any, ledger: Ledger) -> None:
    status = {"instance_id": INSTANCE, "type": "text", "content": "Nouvelle collection"}
    async with client_for(sandbox_app, recipient_allowlist=ALLOWED) as client:
        text = await call_error(client, "publish_status", status)
    assert "MSGFLASH_ALLOW_STATUSES" in text and writes(ledger) == []
    async with client_for(sandbox_app, recipient_allowlist=ALLOWED, allow_statuses=True) as client:
        pending = await call_ok(client, "publish_status", status)
        assert pending["status"] == "confirmation_required"
        done = await call_ok(client, "publish_status", {**status, "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok"
    assert [e["path"] for e in writes(ledger)] == ["/api/v1/statuses"]


@requirement("policy.whatwg-urls")
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("send_message", {"instance_id": INSTANCE, "to": "+33612345000", "type": "text",
                          "text": "Votre colis: evil.example/login pour suivre"}),
        ("send_message", {"instance_id": INSTANCE, "to": "+33612345000", "type": "text",
                          "text": "Suivi: https://evil.example\\.shop.example/track"}),
        ("create_campaign", campaign(recipients_type="all", body="Soldes sur bank-login.zip/offre !")),
        ("publish_status", {"instance_id": INSTANCE, "type": "text", "content": "Promo www.evil.example"}),
        ("create_webhook", {"url": "https://evil.example\\.shop.example/hook", "events": ["message.received"]}),
        ("create_webhook", {"url": "https://shop.example@evil.example/hook", "events": ["message.received"]}),
        # A template is sent later by campaigns that render it at send time: its links are judged when written.
        ("create_template", {"name": "Suivi", "type": "text", "body": "Suivez votre colis: evil.example/login"}),
        ("update_template", {"template_id": WELCOME_TEMPLATE_ID, "body": "Cliquez https://evil.example\\.shop.example/"}),
        ("send_message", {"instance_id": INSTANCE, "to": "+33612345000", "type": "text",
                          "text": "Suivi: http:evil.example/x"}),
        ("send_message", {"instance_id": INSTANCE, "to": "+33612345000", "type": "text",
                          "text": "Suivi: https:/evil.example/x"}),
        ("send_message", {"instance_id": INSTANCE, "to": "+33612345000", "type": "text",
                          "text": "Suivi: evil\uff0eexample/x"}),
        # A location's name and address are shown on the map card, where links are clickable too.
        ("send_message", {"instance_id": INSTANCE, "to": "+33612345000", "type": "location", "latitude": 48.85,
                          "longitude": 2.35, "location_name": "Retrait: evil.example/colis"}),
        ("send_message", {"instance_id": INSTANCE, "to": "+33612345000", "type": "location", "latitude": 48.85,
                          "longitude": 2.35, "location_address": "https://evil.example/adresse"}),
    ],
    ids=["schemeless-message", "backslash-message", "schemeless-campaign", "schemeless-status",
         "backslash-webhook", "userinfo-webhook", "schemeless-template", "backslash-template-edit",
         "slashless-http", "one-slash-https", "fullwidth-dot", "location-name", "location-address"],
)
async def test_url_allowlist_sees_schemeless_and_backslash_links_on_every_path(
    tool: str, args: dict[str, Any], sandbox_app: Any, ledger: Ledger
) -> None:
    async with client_for(sandbox_app, url_allowlist="shop.example") as client:
        text = await call_error(client, tool, args)
    assert "refused by policy" in text and "MSGFLASH_URL_ALLOWLIST" in text
    assert "evil.example" in text or "bank-login.zip" in text
    assert writes(ledger) == []


@requirement("policy.whatwg-urls")
async def test_allowed_links_still_go_through(sandbox_app: Any, ledger: Ledger) -> None:
    args = {"instance_id": INSTANCE, "to": "+33612345000", "type": "text",
            "text": "Soldes: shop.example/sale et https://www.shop.example/a?b=1."}
    async with client_for(sandbox_app, url_allowlist="shop.example") as client:
        pending = await call_ok(client, "send_message", args)
        assert pending["status"] == "confirmation_required"
        done = await call_ok(client, "send_message", {**args, "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok" and [e["path"] for e in writes(ledger)] == ["/api/v1/messages/send"]


def test_seed_assumptions() -> None:
    """The allow-list above names two VIP contacts, and the VIP group has members outside it."""
    vip = [phone for _, phone, tags in PERSONAL_CONTACTS if "vip" in tags]
    assert set(ALLOWED) < set(vip)
