"""The client agrees with what the sandbox now tells (issue 22): repeating campaigns stay pending, buttons
campaigns show their buttons on resume (and the URL allow-list sees them), and the small details."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import (
    INBOUND,
    INBOUND_IDS,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PERSONAL_WA_NUMBER,
    VIP_GROUP_ID,
    WELCOME_TEMPLATE_ID,
)
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.campaign_record import still_pending

from tests.conftest import call_error, call_ok, link_urls, make_settings
from tests.resolution import each_resolution

pytestmark = pytest.mark.anyio
URL_BUTTON = {"type": "url", "display_text": "Voir", "url": "https://evil.example/promo"}


async def created(client: Client, **content: Any) -> dict[str, Any]:
    args = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "name": "Relance", "schedule": "2031-06-01T10:00:00Z",
            "recipients_type": "group", "group_id": VIP_GROUP_ID, **content}
    pending = await call_ok(client, "create_campaign", args)
    done = await call_ok(client, "create_campaign", {**args, "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok", done
    return done["data"]


def test_a_repeating_campaign_is_pending_until_paused_for_good() -> None:
    assert still_pending("completed", "daily") and still_pending("completed", "weekly")  # between runs
    assert still_pending("paused", "daily") and still_pending("scheduled", None)
    assert not still_pending("completed", "none") and not still_pending("completed", None)
    assert not still_pending("cancelled", "daily")


@each_resolution
async def test_a_template_edit_under_a_daily_campaign_between_runs_is_confirmed(
    client: Client, sandbox_app: Any
) -> None:
    made = await created(client, template_id=WELCOME_TEMPLATE_ID, repeat="daily",
                         schedule=(sandbox_app.state.sandbox.clock.now() + timedelta(seconds=5)).isoformat())
    sandbox_app.state.sandbox.clock.advance(3_600)  # the first run is over; the next is tomorrow
    live = (await call_ok(client, "get_campaign", {"campaign_id": made["id"]}))["data"]
    assert live["status"] == "scheduled" and live["stats"]["sent"] + live["stats"]["failed"] > 0
    pending = await call_ok(client, "update_template", {"template_id": WELCOME_TEMPLATE_ID, "body": "Nouveau texte"})
    assert pending["status"] == "confirmation_required"
    assert [c["id"] for c in pending["preview"]["campaigns"]] == [made["id"]]


@pytest.fixture
async def allowlisted(sandbox_app: Any) -> AsyncIterator[Client]:
    server = build_server(make_settings(url_allowlist="shop.example"), sandbox_app=sandbox_app)
    async with Client(server) as c:
        yield c


@each_resolution
async def test_resume_shows_a_buttons_campaigns_buttons_and_polices_their_links(
    client: Client, allowlisted: Client
) -> None:
    made = await created(client, type="buttons", title="Soldes", description="-20 %", buttons=[URL_BUTTON])
    assert made["buttons"] == [{"type": "url", "displayText": "Voir", "url": "https://evil.example/promo"}]
    await call_ok(client, "pause_campaign", {"campaign_id": made["id"]})
    preview = (await call_ok(client, "resume_campaign", {"campaign_id": made["id"]}))["preview"]
    assert preview["what"]["buttons"] == [{"type": "url", "label": "Voir", "target": "https://evil.example/promo"}]
    assert preview["what"]["title"] == "Soldes"
    assert preview["what"]["text"] == "-20 %" and "https://evil.example/promo" in link_urls(preview)
    refused = await call_error(allowlisted, "resume_campaign", {"campaign_id": made["id"]})
    assert "evil.example" in refused  # the allow-list saw the button's link


async def test_an_inbound_message_is_described_by_its_sender(client: Client) -> None:
    out = await call_ok(client, "get_message", {"message_id": INBOUND_IDS[0]})
    sender = INBOUND[0][0]
    assert out["summary"].startswith(f"Message {INBOUND_IDS[0]} from {sender}: received")
    assert PERSONAL_WA_NUMBER not in out["summary"]


async def test_an_empty_text_is_refused_by_name(client: Client) -> None:
    text = await call_error(client, "send_message", {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID,
                                                      "to": "+33612345000", "type": "text", "text": ""})
    assert "text" in text and "at least 1 character" in text
