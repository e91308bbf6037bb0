"""apps.browser: each view in headless Chromium inside a host speaking the MCP Apps protocol (ext-apps
`AppBridge`), fed real plans and results from the sandbox; the ledger referees Approve and Cancel.

Screenshots (light and dark) go to .tmp/artefacts/apps/ (MSGFLASH_ARTEFACTS); UPDATE_SCREENSHOTS=1 also
refreshes the README's copies in docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import CHROMIUM, CHROMIUM_FLAGS, Host, host, screenshot, show

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]  # the first test also starts the browser

PLAN_SHAPE = json.loads((Path(__file__).with_name("plan_shape.json")).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = f"{CHROMIUM} missing: tests/prepare.sh installs Debian's chromium (as root)"
    if not shutil.which(CHROMIUM):
        pytest.fail(missing) if os.environ.get("CI") else pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def session() -> Iterator[Host]:
    with host() as connected:
        yield connected


@pytest.fixture
def page(browser: Any, session: Host) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 520, "height": 1000}, device_scale_factor=1)
    opened = context.new_page()
    requests: list[str] = []
    opened.on("request", lambda request: requests.append(request.url))
    opened.expose_function("hostCallTool", lambda params: session.call(params["name"], params.get("arguments") or {}))
    yield opened
    # No network at run time: the only document fetched is the harness page itself (the view is srcdoc).
    assert [url for url in requests if not url.startswith("file://")] == []
    context.close()


def connected_instance(session: Host) -> str:
    instances = session.call("list_instances", {})["structuredContent"]["data"]
    return next(i["id"] for i in instances if i["status"] == "connected")


def campaign_arguments(session: Host) -> dict[str, Any]:
    groups = session.call("list_groups", {})["structuredContent"]["data"]["groups"]
    vips = next(g for g in groups if g["name"] == "VIPs")
    now = session.call("get_account", {})  # any read: the plan's quota numbers come from the live account
    assert not now.get("isError")
    return {
        "instance_id": connected_instance(session), "name": "Black Friday", "schedule": "2026-12-01T10:00:00Z",
        "recipients_type": "group", "group_id": vips["id"], "type": "buttons", "title": "Black Friday",
        "description": "Our sale starts now: https://shop.example/sale",
        "buttons": [{"type": "url", "display_text": "Shop", "url": "https://shop.example"}],
    }


def frame_text(frame: Any, testid: str) -> str:
    return frame.locator(f'[data-testid="{testid}"]').inner_text()


def test_review_card_shows_the_plan_and_approve_sends_exactly_once(page: Any, session: Host) -> None:
    arguments = campaign_arguments(session)
    result = session.call("create_campaign", arguments)
    assert result["structuredContent"]["status"] == "confirmation_required"
    frame = show(page, session, uri="ui://msgflash/review", tool="create_campaign", arguments=arguments, result=result, theme="light")

    assert frame_text(frame, "recipient-count") == "5"
    assert "Black Friday" in frame_text(frame, "action")
    assert "Our sale starts now: https://shop.example/sale" in frame_text(frame, "text")
    hosts = frame.locator('[data-testid="links"] .host').all_inner_texts()
    assert set(hosts) == {"shop.example"}
    screenshot(frame, "review-sandbox-light")
    assert session.writes("/api/v1/campaigns") == []

    frame.locator('[data-testid="approve"]').click()
    frame.locator('[data-testid="outcome"]').wait_for(state="visible")
    assert "Campaign" in frame_text(frame, "outcome") or "campaign" in frame_text(frame, "outcome")
    assert len(session.writes("/api/v1/campaigns")) == 1

    frame.locator('[data-testid="approve"]').click(force=True)  # a second click: the button is spent
    page.wait_for_timeout(200)
    assert len(session.writes("/api/v1/campaigns")) == 1
    assert page.evaluate("window.appCalls") == ["app_approve"]
    context = page.evaluate("window.modelContext")
    assert "approved" in json.dumps(context)


def test_cancel_sends_nothing(page: Any, session: Host) -> None:
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text",
                 "text": "Hi Ana, https://shop.example/sale"}
    result = session.call("send_message", arguments)
    frame = show(page, session, uri="ui://msgflash/review", tool="send_message", arguments=arguments, result=result, theme="dark")
    assert frame_text(frame, "recipient-count") == "1"
    screenshot(frame, "review-sandbox-dark")
    frame.locator('[data-testid="cancel"]').click()
    frame.locator('[data-testid="outcome"]').wait_for(state="visible")
    assert "cancelled" in frame_text(frame, "outcome")
    assert page.evaluate("window.appCalls") == ["app_cancel"]
    assert session.writes("/api/v1/messages") == []


def test_keyboard_alone_can_approve(page: Any, session: Host) -> None:
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text", "text": "Hello"}
    result = session.call("send_message", arguments)
    frame = show(page, session, uri="ui://msgflash/review", tool="send_message", arguments=arguments, result=result, theme="light")
    frame.locator('[data-testid="cancel"]').focus()
    page.keyboard.press("Tab")  # Cancel, then Approve: the order a person reads them
    assert frame.locator('[data-testid="approve"]').evaluate("b => b === document.activeElement")
    page.keyboard.press("Enter")
    frame.locator('[data-testid="outcome"]').wait_for(state="visible")
    assert len(session.writes("/api/v1/messages")) == 1


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_review_card_renders_every_part_of_the_plan(page: Any, session: Host, theme: str) -> None:
    """The whole shape of PLAN_SHAPE.md (media, buttons, schedule, quota, instance, risks, changes)."""
    result = {
        "content": [{"type": "text", "text": "Confirmation required"}],
        "structuredContent": {"status": "confirmation_required", "workspace": "personal (sandbox)",
                              "summary": "Confirmation required", "preview": PLAN_SHAPE},
        "_meta": {"io.msgflash/confirm": {"token": "cfm_fixture", "tool": "create_campaign", "arguments": {}}},
    }
    frame = show(page, session, uri="ui://msgflash/review", tool="create_campaign", arguments={}, result=result, theme=theme)
    assert frame_text(frame, "recipient-count") == "20"
    assert "cdn.example" in frame_text(frame, "media")
    assert "Shop" in frame_text(frame, "bubble")
    assert frame_text(frame, "instance-state") == "connected"
    assert frame_text(frame, "quota") == "950 → 930 of 1,000"
    assert "recipients 5 → 20" in frame_text(frame, "changes")
    assert "disconnected" in frame_text(frame, "risks")
    assert set(frame.locator('[data-testid="links"] .host').all_inner_texts()) == {"shop.example", "cdn.example"}
    screenshot(frame, f"review-{theme}", readme=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_campaign_funnel(page: Any, session: Host, theme: str) -> None:
    arguments = campaign_arguments(session)
    card = session.call("create_campaign", arguments)["_meta"]["io.msgflash/confirm"]
    created = session.call("app_approve", {"tool": card["tool"], "arguments": card["arguments"], "confirm_token": card["token"]})
    campaign_id = created["structuredContent"]["data"]["id"]
    session.control("/_sandbox/clock", {"set": "2026-12-01T12:00:00Z"})  # past the schedule: the campaign runs
    arguments = {"campaign_id": campaign_id}
    result = session.call("get_campaign_stats", arguments)
    stats = result["structuredContent"]["data"]["stats"]
    frame = show(page, session, uri="ui://msgflash/campaign-stats", tool="get_campaign_stats", arguments=arguments, result=result, theme=theme)
    for step in ("planned", "sent", "delivered", "read", "failed"):
        meter = frame.locator(f'[data-testid="step-{step}"]')
        assert meter.get_attribute("aria-valuenow") == str(stats.get(step) or 0)
    assert frame.locator('[data-testid="step-failed"]').get_attribute("class") == "bar bad"
    screenshot(frame, f"campaign-stats-{theme}", readme=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_usage_gauges_warn_at_80_percent(page: Any, session: Host, theme: str) -> None:
    session.control("/_sandbox/account", {"usage": {"messagesCount": 4200, "statusesCount": 0}})  # 84% of 5,000
    result = session.call("get_usage", {})
    frame = show(page, session, uri="ui://msgflash/usage", tool="get_usage", arguments={}, result=result, theme=theme)
    gauge = frame.locator('[data-testid="gauge-effectiveOutboundUsage"]')
    assert gauge.get_attribute("aria-valuemax") == "5000"
    assert "warn" in (gauge.get_attribute("class") or "")
    assert "Outbound messages: 84%" in frame_text(frame, "warnings")
    assert frame.locator("html").get_attribute("data-theme") == theme  # the host's theme, from ui/initialize
    screenshot(frame, f"usage-{theme}", readme=True)
    other = "dark" if theme == "light" else "light"
    page.evaluate(f"window.harness.setTheme('{other}')")  # ui/notifications/host-context-changed
    frame.locator(f'html[data-theme="{other}"]').wait_for(state="attached")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_instance_health_with_its_advice(page: Any, session: Host, theme: str) -> None:
    instances = session.call("list_instances", {})["structuredContent"]["data"]
    arguments = {"instance_id": instances[-1]["id"]}
    result = session.call("get_instance_health", arguments)
    data = result["structuredContent"]["data"]
    frame = show(page, session, uri="ui://msgflash/instance-health", tool="get_instance_health", arguments=arguments, result=result, theme=theme)
    assert frame_text(frame, "decision") == f"decision: {data['decision']}"
    advice = frame_text(frame, "advice")
    for item in data.get("recommendations") or []:
        assert str(item if isinstance(item, str) else item.get("message", "")) in advice
    screenshot(frame, f"instance-health-{theme}", readme=True)


def test_a_plan_that_changed_before_approve_is_shown_again_with_what_changed(page: Any, session: Host) -> None:
    """The group grows between the card and the click: nothing is sent; the card shows the new plan and
    "recipients 5 → 8"; approving that one sends it, once."""
    arguments = campaign_arguments(session)
    result = session.call("create_campaign", arguments)
    frame = show(page, session, uri="ui://msgflash/review", tool="create_campaign", arguments=arguments, result=result, theme="light")
    assert frame_text(frame, "recipient-count") == "5"

    group = arguments["group_id"]
    members = {m["id"] for m in session.call("list_group_members", {"group_id": group})["structuredContent"]["data"]["members"]}
    others = [c["id"] for c in session.call("list_contacts", {})["structuredContent"]["data"]["contacts"] if c["id"] not in members]
    session.call("add_group_members", {"group_id": group, "contact_ids": others[:3]})

    frame.locator('[data-testid="approve"]').click()
    frame.locator('[data-testid="changes"]').wait_for(state="visible")
    assert "recipients 5 → 8" in frame_text(frame, "changes")
    assert frame_text(frame, "recipient-count") == "8"
    assert session.writes("/api/v1/campaigns") == []
    screenshot(frame, "review-changed-light")

    frame.locator('[data-testid="approve"]').click()
    frame.locator('[data-testid="outcome"]').wait_for(state="visible")
    assert len(session.writes("/api/v1/campaigns")) == 1


def test_host_style_variables_restyle_the_view(page: Any, session: Host) -> None:
    """A host that sends its palette (McpUiStyles variables) gets a view in its own colours."""
    result = session.call("get_usage", {})
    styles = {"--color-background-primary": "rgb(1, 2, 3)", "--color-text-primary": "rgb(250, 240, 230)"}
    frame = show(page, session, uri="ui://msgflash/usage", tool="get_usage", arguments={}, result=result, theme="dark", styles=styles)
    frame.locator('[data-testid="gauge-effectiveOutboundUsage"]').wait_for()
    body = frame.locator("body")
    assert body.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(1, 2, 3)"
    assert body.evaluate("b => getComputedStyle(b).color") == "rgb(250, 240, 230)"
