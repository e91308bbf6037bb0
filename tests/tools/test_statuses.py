"""statuses toolset: publish_status is guarded; its preview names the audience, content and links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, PERSONAL_DISCONNECTED_INSTANCE_ID

from tests.conftest import call_error, call_ok, link_urls, mutations

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
SANDBOX_PERSONAL = "personal (sandbox)"
INSTANCE = PERSONAL_CONNECTED_INSTANCE_ID
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"
PUBLISH = "/api/v1/statuses"


def publishes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["method"] == "POST" and e["path"] == PUBLISH]


async def test_text_status_needs_confirmation_then_publishes_once(client: Client, ledger: Ledger) -> None:
    args = {
        "instance_id": INSTANCE,
        "type": "text",
        "content": "Nouvelle collection en boutique ! https://shop.example.com/new",
        "background_color": "#00a884",
    }
    first = await call_ok(client, "publish_status", args)
    assert first["status"] == "confirmation_required" and first["workspace"] == SANDBOX_PERSONAL
    preview = first["preview"]
    assert preview["action"] == "Publish a text status (story)"
    assert preview["audience"] == "everyone who sees this number's statuses"
    assert preview["what"]["text"] == args["content"] and preview["background"] == "#00a884"
    assert link_urls(preview) == ["https://shop.example.com/new"]
    assert "risk" not in preview
    assert publishes(ledger()) == [] and mutations(ledger()) == []

    second = await call_ok(client, "publish_status", {**args, "confirm_token": first["confirm_token"]})
    assert second["status"] == "ok" and second["workspace"] == SANDBOX_PERSONAL
    assert second["data"]["instanceId"] == INSTANCE
    assert second["summary"] == f"Status published (text), provider id {second['data']['providerMessageId']}"
    [published] = publishes(ledger())
    assert published["committed"]

    replay = await call_ok(client, "publish_status", {**args, "confirm_token": first["confirm_token"]})
    assert replay["status"] == "replayed"
    assert len(publishes(ledger())) == 1


async def test_image_status_preview_lists_the_image_and_caption_links(client: Client) -> None:
    args = {
        "instance_id": INSTANCE,
        "type": "image",
        "content": "https://cdn.example.com/story.jpg",
        "caption": "Voir https://shop.example.com/story",
    }
    first = await call_ok(client, "publish_status", args)
    preview = first["preview"]
    assert preview["what"]["media"] == args["content"] and preview["what"]["text"] == args["caption"]
    assert link_urls(preview) == ["https://cdn.example.com/story.jpg", "https://shop.example.com/story"]
    second = await call_ok(client, "publish_status", {**args, "confirm_token": first["confirm_token"]})
    assert second["summary"].startswith("Status published (image)")


async def test_disconnected_instance_is_flagged(client: Client) -> None:
    args = {"instance_id": PERSONAL_DISCONNECTED_INSTANCE_ID, "type": "text", "content": "Bonjour"}
    preview = (await call_ok(client, "publish_status", args))["preview"]
    assert preview["risk"] == [
        "instance support-ancien is disconnected: the status will be refused until it is reconnected in the dashboard"
    ]


async def test_provider_refusal_surfaces_readably(client: Client, ledger: Ledger) -> None:
    args = {"instance_id": PERSONAL_DISCONNECTED_INSTANCE_ID, "type": "text", "content": "Bonjour"}
    first = await call_ok(client, "publish_status", args)
    text = await call_error(client, "publish_status", {**args, "confirm_token": first["confirm_token"]})
    # PROVIDER_ERROR is the API's documented refusal (REFERENCE §14, §18): a rejection with its advice,
    # not an unknown outcome (issue 12). Only transport-level doubt asks to check the status tab.
    assert "502 PROVIDER_ERROR: The provider rejected the status" in text and "nothing was done" in text
    assert "outcome unknown" not in text.lower()
    assert mutations(ledger()) == [] and len(publishes(ledger())) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"type": "image", "content": "not a url"}, "type=image needs content to be the public http(s) URL"),
        (
            {"type": "image", "content": "https://cdn.example.com/a.jpg", "background_color": "#000000"},
            "background_color is only for type=text",
        ),
        ({"type": "text", "content": "Bonjour", "caption": "x"}, "caption is only for type=image"),
        ({"type": "text", "content": "Bonjour", "background_color": "green"}, "background_color"),
        ({"type": "video", "content": "https://cdn.example.com/a.mp4"}, "type"),
        ({"type": "text", "content": ""}, "content"),
    ],
)
async def test_invalid_statuses_fail_before_any_request(
    client: Client, ledger: Ledger, args: dict[str, Any], expected: str
) -> None:
    text = await call_error(client, "publish_status", {"instance_id": INSTANCE, **args})
    assert expected in text
    assert ledger() == []


async def test_unknown_instance_fails_in_the_preview(client: Client, ledger: Ledger) -> None:
    text = await call_error(client, "publish_status", {"instance_id": UNKNOWN_ID, "type": "text", "content": "x"})
    assert "nothing was sent" in text and "NOT_FOUND" in text
    assert mutations(ledger()) == []
