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


def campaign_that_ran(session: Host) -> str:
    """The id of a campaign created through the card and run by the sandbox's clock."""
    card = session.call("create_campaign", campaign_arguments(session))["_meta"]["io.msgflash/confirm"]
    created = session.call("app_approve", {"tool": card["tool"], "arguments": card["arguments"], "confirm_token": card["token"]})
    session.control("/_sandbox/clock", {"set": "2026-12-01T12:00:00Z"})  # past the schedule: the campaign runs
    return created["structuredContent"]["data"]["id"]


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


def test_the_card_prints_what_each_button_does(page: Any, session: Host) -> None:
    """A call button's number and a copy button's code (an IBAN) are decisive: the card prints them under the
    labels the person sees, not in a tooltip a touch screen never shows."""
    arguments = {
        "instance_id": connected_instance(session), "to": "+33612345000", "type": "buttons", "title": "Paiement",
        "description": "Comment payer ?",
        "buttons": [{"type": "call", "display_text": "Appeler", "phone_number": "+33612345678"},
                    {"type": "copy", "display_text": "Copier l'IBAN", "copy_code": "FR7630006000011234567890189"}],
    }
    result = session.call("send_message", arguments)
    assert result["structuredContent"]["status"] == "confirmation_required"
    frame = show(page, session, uri="ui://msgflash/review", tool="send_message", arguments=arguments, result=result, theme="light")
    shown = frame.locator('[data-testid="buttons"] span').all_inner_texts()
    assert len(shown) == 2
    assert "Appeler" in shown[0] and "+33612345678" in shown[0]
    assert "Copier l'IBAN" in shown[1] and "FR7630006000011234567890189" in shown[1]
    assert session.writes("/api/v1/messages") == []


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
    assert frame_text(frame, "quota") == "930 left of 1,000 after this (uses 20)"
    # The server's rendering for one real recipient in the bubble, named; the template apart, as the template.
    assert frame_text(frame, "text") == PLAN_SHAPE["what"]["sample"]
    assert frame_text(frame, "sample-for") == "What Ana Souza will read"
    assert frame_text(frame, "template-text") == PLAN_SHAPE["what"]["text"]
    assert frame_text(frame, "when-local") == "1 Dec 2026, 07:00 (America/Sao Paulo)"  # the host's zone
    assert frame_text(frame, "when-utc") == "1 Dec 2026, 10:00 UTC"
    assert frame_text(frame, "preview-id") == "Preview id 3f2a9c0d"
    assert "recipients 5 → 20" in frame_text(frame, "changes")
    assert "disconnected" in frame_text(frame, "risks")
    assert set(frame.locator('[data-testid="links"] .host').all_inner_texts()) == {"shop.example", "cdn.example"}
    screenshot(frame, f"review-{theme}", readme=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_campaign_funnel(page: Any, session: Host, theme: str) -> None:
    arguments = {"campaign_id": campaign_that_ran(session)}
    result = session.call("get_campaign_stats", arguments)
    stats = result["structuredContent"]["data"]["stats"]
    frame = show(page, session, uri="ui://msgflash/campaign-stats", tool="get_campaign_stats", arguments=arguments, result=result, theme=theme)
    frame.locator('[data-testid="subject"]', has_text="Black Friday").wait_for()  # named, not "Campaign"
    assert frame_text(frame, "subject") == "Campaign Black Friday"
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
    # The number's name and phone number, not its UUID.
    frame.locator('[data-testid="subject"]', has_text=instances[-1]["name"]).wait_for()
    assert frame_text(frame, "number") == instances[-1]["waNumber"]
    assert instances[-1]["id"] not in frame.locator("main").inner_text()
    assert data["decision"] == "block" and frame_text(frame, "decision") == "Sending: blocked"
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


# ------------------------------------------------------------------------- what the card says


def review(page: Any, session: Host, tool: str, arguments: dict[str, Any], **host: Any) -> tuple[Any, dict[str, Any]]:
    """A guarded call made by the model, shown in the card: (frame, the call's result)."""
    result = session.call(tool, arguments)
    assert result["structuredContent"]["status"] == "confirmation_required", result
    host.setdefault("theme", "light")
    return show(page, session, uri="ui://msgflash/review", tool=tool, arguments=arguments, result=result, **host), result


def test_a_template_campaign_shows_what_a_real_recipient_will_read(page: Any, session: Host) -> None:
    """The server's rendering for the first recipient (what.sample), named as such; the raw template with
    its placeholders is shown apart, as the template, never captioned as rendered."""
    templates = session.call("list_templates", {})["structuredContent"]["data"]["templates"]
    promo = next(t for t in templates if t["name"] == "Code promo")
    arguments = {**campaign_arguments(session), "template_id": promo["id"], "variables": {"code": "NOEL25"}}
    for key in ("type", "title", "description", "buttons"):
        arguments.pop(key)
    frame, result = review(page, session, "create_campaign", arguments)
    what = result["structuredContent"]["preview"]["what"]
    assert what["sample"] == "Hello Awa, utilisez NOEL25." and what["sample_for"] == "Awa Diop"
    assert frame_text(frame, "text") == "Hello Awa, utilisez NOEL25."
    assert frame_text(frame, "sample-for") == "What Awa Diop will read"
    assert frame_text(frame, "template-text") == "Hello {{contact.firstName}}, utilisez NOEL25."
    assert "{{" not in frame_text(frame, "bubble")
    screenshot(frame, "review-template-light", readme=True)


@pytest.mark.parametrize(("used", "tone", "says"), [
    (50, "ok", "4,949 left of 5,000 after this (uses 1)"),
    (4000, "warn", "999 left of 5,000 after this (uses 1) · little left this month"),
    (4950, "bad", "49 left of 5,000 after this (uses 1) · almost none left this month"),
])
def test_the_quota_says_how_many_are_left_and_warns_when_few_are(
    page: Any, session: Host, used: int, tone: str, says: str
) -> None:
    session.control("/_sandbox/account", {"usage": {"messagesCount": used, "statusesCount": 0}})
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text", "text": "Hello"}
    frame, _ = review(page, session, "send_message", arguments)
    quota = frame.locator('[data-testid="quota"]')
    assert quota.inner_text() == says
    assert quota.get_attribute("data-tone") == tone


def test_an_immediate_send_says_now_and_a_scheduled_one_says_when_in_both_zones(page: Any, session: Host) -> None:
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text", "text": "Hello"}
    frame, _ = review(page, session, "send_message", arguments)
    assert frame_text(frame, "when-local") == "now, as soon as you approve"
    frame, _ = review(page, session, "create_campaign", campaign_arguments(session))
    assert frame_text(frame, "when-utc") == "1 Dec 2026, 10:00 UTC"
    assert frame_text(frame, "when-local") == "1 Dec 2026, 07:00 (America/Sao Paulo)"


def test_the_card_shows_no_raw_keys_dicts_or_digest(page: Any, session: Host) -> None:
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text",
                 "text": "Hi Ana, https://shop.example/sale"}
    frame, result = review(page, session, "send_message", arguments)
    digest = result["structuredContent"]["preview"]["digest"]
    labels = frame.locator("dl.facts dt").all_inner_texts()
    assert labels and all(label[0].isupper() and "_" not in label for label in labels), labels
    assert "Contact" in labels  # the plan's "contact" line, labelled
    text = frame.locator("main").inner_text()
    assert "{" not in text and "plan " not in text and digest not in text
    assert frame_text(frame, "preview-id") == f"Preview id {digest[:8]}"


def test_a_bulk_delete_names_its_selector_and_looks_like_a_delete(page: Any, session: Host) -> None:
    frame, result = review(page, session, "bulk_delete_contacts", {"tags": ["vip"]})
    people = result["structuredContent"]["preview"]["who"]["sample"]
    assert frame_text(frame, "selector") == "Chosen by: contacts tagged vip"
    assert frame_text(frame, "action") == "Delete 5 contact(s) permanently"  # the names once, in the list below
    assert all(person["name"] in frame_text(frame, "recipients") for person in people)
    approve = frame.locator('[data-testid="approve"]')
    assert approve.inner_text() == "Delete" and "danger" in (approve.get_attribute("class") or "")
    assert approve.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(220, 38, 38)"  # red, not a send's green
    screenshot(frame, "review-delete-light", readme=True)
    approve.click()
    frame.locator('[data-testid="outcome"]').wait_for(state="visible")
    assert len(session.writes("/api/v1/contacts/bulk-delete")) == 1


def test_a_single_delete_names_the_person_without_quotes(page: Any, session: Host) -> None:
    contact = session.call("list_contacts", {})["structuredContent"]["data"]["contacts"][0]
    frame, result = review(page, session, "delete_contact", {"contact_id": contact["id"]})
    assert f'"{contact["name"]}"' in result["structuredContent"]["preview"]["action"]  # quoted for the model
    assert frame_text(frame, "action") == f"Delete contact {contact['name']} ({contact['phone']})"
    assert frame_text(frame, "approve") == "Delete"
    frame.locator('[data-testid="approve"]').click()
    frame.locator('[data-testid="outcome"]').wait_for(state="visible")
    assert len(session.writes(f"/api/v1/contacts/{contact['id']}")) == 1


# ------------------------------------------------------------------------------ never a dead end


def test_a_host_that_cannot_relay_calls_gets_the_way_through_the_conversation(page: Any, session: Host) -> None:
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text", "text": "Hello"}
    frame, result = review(page, session, "send_message", arguments, server_tools=False)
    says = frame_text(frame, "dead-end")
    assert "cannot pass a decision from this card" in says and "nothing has been sent" in says
    assert "tell the assistant in the conversation that you approve" in says
    assert frame.locator('[data-testid="approve"]').count() == 0 and frame.locator('[data-testid="refresh"]').count() == 0
    # What the model was told matches: the identical call again gives the conversation's token path.
    assert "returns a confirm_token, to use only after they agree in the conversation" in result["structuredContent"]["summary"]
    screenshot(frame, "review-no-relay-light", readme=True)
    again = session.call("send_message", arguments)
    assert again["structuredContent"].get("confirm_token")
    frame = show(page, session, uri="ui://msgflash/review", tool="send_message", arguments=arguments, result=again,
                 theme="light", server_tools=False)
    assert frame_text(frame, "dead-end") == (
        "The assistant will ask you to confirm this in the conversation; nothing has been sent yet."
    )
    assert frame.locator('[data-testid="approve"]').count() == 0


def test_a_card_whose_meta_was_dropped_reviews_again_and_then_approves_once(page: Any, session: Host) -> None:
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text", "text": "Hello"}
    frame, _ = review(page, session, "send_message", arguments, drop_meta=True)
    assert "did not pass this card its confirmation" in frame_text(frame, "dead-end")
    frame.locator('[data-testid="refresh"]').click()
    frame.locator('[data-testid="approve"]').click()
    frame.locator('[data-testid="outcome"]').wait_for(state="visible")
    assert page.evaluate("window.appCalls") == ["app_refresh", "app_approve"]
    assert len(session.writes("/api/v1/messages")) == 1


def test_a_stale_confirmation_is_planned_again_in_plain_words(page: Any, session: Host) -> None:
    """The token expired or the server restarted: Approve sends nothing and shows the live plan with why,
    not the model's "Error executing tool app_approve: ... Call again without confirm_token"."""
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text", "text": "Hello"}
    result = session.call("send_message", arguments)
    result["_meta"]["io.msgflash/confirm"]["token"] = "cfm_" + "0" * 32  # what a restarted server no longer knows
    frame = show(page, session, uri="ui://msgflash/review", tool="send_message", arguments=arguments, result=result, theme="light")
    frame.locator('[data-testid="approve"]').click()
    note = frame.locator('[data-testid="note"]')
    note.wait_for()
    assert "expired (or the server restarted), so nothing was sent" in note.inner_text()
    assert "Error executing tool" not in frame.locator("main").inner_text()
    assert session.writes("/api/v1/messages") == []
    screenshot(frame, "review-stale-light", readme=True)
    frame.locator('[data-testid="approve"]').click()
    frame.locator('[data-testid="outcome"]').wait_for(state="visible")
    assert len(session.writes("/api/v1/messages")) == 1


def test_an_error_reaches_the_person_without_the_tool_prefixes(page: Any, session: Host) -> None:
    arguments = {"instance_id": connected_instance(session), "to": "+5511912345678", "type": "text", "text": "Hello"}
    result = session.call("send_message", arguments)
    result["_meta"]["io.msgflash/confirm"]["arguments"]["text"] = "Something else"  # not what was previewed
    frame = show(page, session, uri="ui://msgflash/review", tool="send_message", arguments=arguments, result=result, theme="light")
    frame.locator('[data-testid="approve"]').click()
    outcome = frame.locator('[data-testid="outcome"]')
    outcome.wait_for(state="visible")
    assert outcome.inner_text().startswith("Not sent: Confirm_token was issued for different arguments")
    assert "Error executing tool" not in outcome.inner_text()
    assert session.writes("/api/v1/messages") == []


# ------------------------------------------------------------------------------- theme and width


@pytest.mark.parametrize(("scheme", "background"), [("dark", "rgb(17, 24, 39)"), ("light", "rgb(255, 255, 255)")])
def test_without_a_host_theme_the_view_follows_the_os_preference(page: Any, session: Host, scheme: str, background: str) -> None:
    page.emulate_media(color_scheme=scheme)
    result = session.call("get_usage", {})
    frame = show(page, session, uri="ui://msgflash/usage", tool="get_usage", arguments={}, result=result, theme=None)
    frame.locator(f'html[data-theme="{scheme}"]').wait_for(state="attached")
    assert frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor") == background


@pytest.mark.parametrize("report", ["campaign-stats", "usage"])
def test_reports_keep_their_bars_readable_at_380_px(page: Any, session: Host, report: str) -> None:
    page.set_viewport_size({"width": 380, "height": 900})
    tool, arguments, meter = (
        ("get_campaign_stats", {"campaign_id": campaign_that_ran(session)}, "step-sent") if report == "campaign-stats"
        else ("get_usage", {}, "gauge-effectiveOutboundUsage")
    )
    result = session.call(tool, arguments)
    frame = show(page, session, uri=f"ui://msgflash/{report}", tool=tool, arguments=arguments, result=result, theme="light")
    track = frame.locator(f'[data-testid="{meter}"] .track')
    assert track.evaluate("t => t.getBoundingClientRect().width") >= 300  # the whole width, not ~45 px
    assert frame.locator("html").evaluate("h => h.scrollWidth <= h.clientWidth")  # no sideways scrolling
    screenshot(frame, f"{report}-380px-light", readme=True)
