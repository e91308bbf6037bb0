"""campaigns toolset: recipient counts in previews, template warnings, quota, token path, pause/resume."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox import quotas
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    FAILING_CONTACT_ID,
    FINISHED_CAMPAIGN_ID,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PERSONAL_CONTACTS,
    PERSONAL_DISCONNECTED_INSTANCE_ID,
    PROMO_TEMPLATE_ID,
    SCHEDULED_CAMPAIGN_ID,
    USER_ID,
    VIP_GROUP_ID,
)
from msgflash_mcp.tools import _recipients

from tests.conftest import call_error, call_ok, link_urls, mutations
from tests.opt_outs import reachable
from tests.resolution import each_resolution

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
SANDBOX_PERSONAL = "personal (sandbox)"
INSTANCE = PERSONAL_CONNECTED_INSTANCE_ID
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"
CREATE = "/api/v1/campaigns"


def later(hours: float = 24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


def campaign(**extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "instance_id": INSTANCE,
        "name": "Offre VIP",
        "schedule": later(),
        "recipients_type": "group",
        "group_id": VIP_GROUP_ID,
        "type": "text",
        "body": "Offre réservée : https://shop.example.com/vip",
    }
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def creates(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["method"] == "POST" and e["path"] == CREATE]


def tagged(tag: str) -> int:
    return sum(1 for _, _, tags in PERSONAL_CONTACTS if tag in tags)


# ------------------------------------------------------------------------------ create: preview


async def test_group_campaign_preview_counts_the_groups_members(client: Client, ledger: Ledger) -> None:
    group = await call_ok(client, "get_group", {"group_id": VIP_GROUP_ID})
    first = await call_ok(client, "create_campaign", campaign())
    assert first["status"] == "confirmation_required" and first["workspace"] == SANDBOX_PERSONAL
    preview = first["preview"]
    assert preview["who"]["count"] == group["data"]["contactCount"] == tagged("vip")
    # The group is resolved in the plan and its members' ids are sent: the preview says so.
    assert preview["recipients are"] == (
        'members of group "VIPs", frozen to these 5 contacts (people added later are not messaged)'
    )
    assert preview["action"] == "Create the text campaign 'Offre VIP'"
    assert preview["what"]["text"] == "Offre réservée : https://shop.example.com/vip"
    assert link_urls(preview) == ["https://shop.example.com/vip"]
    assert preview["instance"]["state"] == "connected"
    assert isinstance(preview["cost"]["quota_before"], int)
    assert "risk" not in preview
    assert mutations(ledger()) == [] and creates(ledger()) == []


@each_resolution
async def test_campaign_is_created_once_with_the_token(client: Client, ledger: Ledger, resolution: str) -> None:
    args = campaign(schedule="2031-06-01T12:00:00+02:00")
    first = await call_ok(client, "create_campaign", args)
    assert first["preview"]["when"]["utc"] == "2031-06-01T10:00:00.000Z"
    second = await call_ok(client, "create_campaign", {**args, "confirm_token": first["confirm_token"]})
    assert second["status"] == "ok" and second["workspace"] == SANDBOX_PERSONAL
    data = second["data"]
    assert data["status"] == "scheduled" and data["schedule"] == "2031-06-01T10:00:00.000Z"
    vips = tagged("vip")
    # The group's members as explicit ids (frozen at the confirmation), never the selector
    assert data["recipients"]["type"] == "explicit" and len(data["recipients"]["value"]) == vips
    assert first["preview"]["who"]["count"] == vips and data["body"] == args["body"]
    # Zeroed stats at create (the reference's example) unless the API resolves at creation: either way the
    # summary counts the confirmed contacts.
    assert data["stats"]["planned"] == (vips if resolution == "create" else 0)
    count = f"{vips} recipient(s)"
    assert second["summary"] == (
        f"Campaign 'Offre VIP' scheduled for 2031-06-01T10:00:00.000Z (UTC), {count}, id {data['id']}; "
        "safety allow (low risk)"
    )
    [created] = creates(ledger())
    assert created["committed"] and created["object_id"] == data["id"]

    replay = await call_ok(client, "create_campaign", {**args, "confirm_token": first["confirm_token"]})
    assert replay["status"] == "replayed" and replay["data"]["id"] == data["id"]
    assert len(creates(ledger())) == 1


async def test_template_campaign_with_a_missing_custom_variable_is_flagged(client: Client) -> None:
    args = campaign(type=None, body=None, template_id=PROMO_TEMPLATE_ID)
    preview = (await call_ok(client, "create_campaign", args))["preview"]
    assert preview["action"] == "Create the template campaign 'Offre VIP'"
    assert preview["what"]["template"] == "Code promo (text)"
    [warning] = preview["risk"]
    assert "custom.code" in warning and "variables=" in warning
    # contact.* is filled for each recipient at send time: shown, not a warning.
    assert preview["filled per recipient"] == ["contact.firstName"]

    filled = (await call_ok(client, "create_campaign", {**args, "variables": {"code": "VIP20"}}))["preview"]
    assert "risk" not in filled
    assert filled["what"]["text"] == "Hello {{contact.firstName}}, utilisez VIP20."


async def test_disconnected_instance_is_flagged(client: Client) -> None:
    preview = (await call_ok(client, "create_campaign", campaign(instance_id=PERSONAL_DISCONNECTED_INSTANCE_ID)))[
        "preview"
    ]
    assert preview["risk"] == [
        "instance support-ancien is disconnected: its messages will fail until it is reconnected in the dashboard"
    ]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"recipients_type": "all", "group_id": None}, len(reachable([p for _, p, _ in PERSONAL_CONTACTS]))),
        ({"recipients_type": "tags", "tags": ["vip", "lead"], "group_id": None}, 11),
        (
            {
                "recipients_type": "explicit",
                "contact_ids": [AWA_CONTACT_ID, FAILING_CONTACT_ID, AWA_CONTACT_ID],
                "group_id": None,
            },
            2,
        ),
    ],
)
async def test_preview_resolves_every_recipient_selector(
    client: Client, ledger: Ledger, selector: dict[str, Any], expected: int
) -> None:
    # vip + lead: 5 + 7, Khady has both tags and is counted once; `all` leaves the seeded STOP out
    preview = (await call_ok(client, "create_campaign", campaign(**selector)))["preview"]
    assert preview["who"]["count"] == expected
    assert mutations(ledger()) == []


async def test_tag_count_is_exact_across_pages(
    client: Client, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan.exact-recipients: a tag selection is resolved page by page to the exact count, never 'at least'."""
    monkeypatch.setattr(_recipients, "PAGE_SIZE", 3)
    preview = (
        await call_ok(client, "create_campaign", campaign(recipients_type="tags", tags=["customer"], group_id=None))
    )["preview"]
    assert preview["who"]["count"] == preview["who"]["count"] == tagged("customer")
    assert "at least" not in preview["recipients are"]
    pages = [e for e in ledger() if e["method"] == "GET" and e["path"] == "/api/v1/contacts"]
    assert len(pages) > 2


async def test_quota_left_is_shown_and_warns_when_short(client: Client, sandbox_app: Any) -> None:
    sandbox = sandbox_app.state.sandbox
    sandbox.db.execute("BEGIN")
    quotas.set_usage(sandbox.db, USER_ID, sandbox.clock.timestamp(), {"messages": 4990, "statuses": 5})
    sandbox.db.execute("COMMIT")
    preview = (await call_ok(client, "create_campaign", campaign(recipients_type="all", group_id=None)))["preview"]
    assert preview["cost"]["quota_before"] == 5000 - 4995
    everyone = len(reachable([phone for _, phone, _ in PERSONAL_CONTACTS]))  # the seeded STOP is left out
    assert preview["who"]["count"] == everyone
    assert any(w.startswith(f"{everyone} recipients but only 5 outbound messages left") for w in preview["risk"])


async def test_repeating_campaign_says_it_messages_again(client: Client) -> None:
    preview = (await call_ok(client, "create_campaign", campaign(repeat="weekly")))["preview"]
    assert preview["repeats"] == "weekly: every run messages the recipients again"


async def test_buttons_campaign_preview(client: Client, ledger: Ledger) -> None:
    args = campaign(
        type="buttons",
        body=None,
        title="Soldes",
        description="Jusqu'à -50 %",
        buttons=[{"type": "url", "display_text": "Voir", "url": "https://shop.example.com/soldes"}],
    )
    (first,) = [await call_ok(client, "create_campaign", args)]
    assert first["preview"]["what"]["buttons"] == [
        {"type": "url", "label": "Voir", "target": "https://shop.example.com/soldes"}
    ]
    assert link_urls(first["preview"]) == ["https://shop.example.com/soldes"]
    second = await call_ok(client, "create_campaign", {**args, "confirm_token": first["confirm_token"]})
    assert second["data"]["type"] == "buttons"
    assert len(creates(ledger())) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (campaign(template_id=PROMO_TEMPLATE_ID), "pass either type or template_id, not both"),
        (campaign(type=None, body=None), "pass type (direct content) or template_id"),
        (campaign(body=None), "type=text needs body"),
        (campaign(group_id=None), "recipients_type=group needs group_id"),
        (campaign(recipients_type="tags"), "recipients_type=tags needs tags"),
        (campaign(recipients_type="all"), "group_id not used with recipients_type=all"),
        (campaign(type="location"), "type"),
        (campaign(schedule="2031-06-01T12:00:00"), "timezone"),
        (campaign(repeat="monthly"), "repeat"),
        (
            campaign(type=None, body=None, template_id=PROMO_TEMPLATE_ID, media_url="https://x.example/a.jpg"),
            "media_url cannot be combined with template_id",
        ),
        (
            campaign(
                type="buttons",
                body=None,
                title="t",
                description="d",
                buttons=[{"type": "reply", "display_text": f"B{i}", "id": str(i)} for i in range(3)],
            ),
            "at most 2",
        ),
    ],
)
async def test_invalid_campaigns_fail_before_any_request(
    client: Client, ledger: Ledger, args: dict[str, Any], expected: str
) -> None:
    text = await call_error(client, "create_campaign", args)
    assert expected in text
    assert ledger() == []


async def test_unknown_group_fails_in_the_preview(client: Client, ledger: Ledger) -> None:
    text = await call_error(client, "create_campaign", campaign(group_id=UNKNOWN_ID))
    assert "nothing was sent" in text and "NOT_FOUND" in text
    assert mutations(ledger()) == []


# ------------------------------------------------------------------------- read, pause, resume


async def test_get_campaign_and_stats(client: Client) -> None:
    out = await call_ok(client, "get_campaign", {"campaign_id": FINISHED_CAMPAIGN_ID})
    assert out["workspace"] == SANDBOX_PERSONAL and out["data"]["id"] == FINISHED_CAMPAIGN_ID
    assert out["summary"].startswith("Campaign 'Soldes de printemps' is ")
    stats = await call_ok(client, "get_campaign_stats", {"campaign_id": FINISHED_CAMPAIGN_ID})
    assert stats["data"]["campaignId"] == FINISHED_CAMPAIGN_ID
    assert stats["data"]["stats"]["planned"] == tagged("vip")
    assert f"{tagged('vip')} planned" in stats["summary"]


async def test_unknown_campaign_is_a_readable_not_found(client: Client) -> None:
    for tool in ("get_campaign", "get_campaign_stats", "pause_campaign"):
        text = await call_error(client, tool, {"campaign_id": UNKNOWN_ID})
        assert "404 NOT_FOUND" in text and "list the collection" in text


@each_resolution
async def test_pause_is_not_guarded_and_resume_previews_the_remaining_recipients(
    client: Client, ledger: Ledger, sandbox_app: Any
) -> None:
    sandbox = sandbox_app.state.sandbox
    paused = await call_ok(client, "pause_campaign", {"campaign_id": SCHEDULED_CAMPAIGN_ID})
    assert paused["status"] == "ok" and paused["data"]["status"] == "paused"
    assert paused["summary"].startswith('Campaign "Lancement été" paused')
    # The API has no cancel nor reschedule: the result says pausing is the stop, and what resuming would do.
    stats = paused["data"]["stats"]
    resume = (  # resolved at start (nothing counted yet) or at creation (all still queued)
        f"would send the message to the recipients still queued ({stats['queued']} now)" if stats["planned"]
        else "would put it back on its schedule ("
    )
    assert f"The API cannot cancel or reschedule a campaign: it stays paused until resume_campaign, which {resume}" \
        in paused["summary"]

    first = await call_ok(client, "resume_campaign", {"campaign_id": SCHEDULED_CAMPAIGN_ID})
    assert first["status"] == "confirmation_required"
    preview = first["preview"]
    assert preview["action"] == 'Resume campaign "Lancement été"'
    assert preview["who"]["count"] == tagged("newsletter")  # nothing sent yet
    assert preview["status now"] == "paused" and preview["instance"]["state"] == "connected"
    resumes = [e for e in ledger() if e["path"].endswith("/resume")]
    assert resumes == []
    second = await call_ok(
        client, "resume_campaign", {"campaign_id": SCHEDULED_CAMPAIGN_ID, "confirm_token": first["confirm_token"]}
    )
    assert second["data"]["status"] == "scheduled"  # resumed before its start: waits for the schedule
    assert len([e for e in ledger() if e["path"].endswith("/resume") and e["committed"]]) == 1
    assert sandbox is not None


async def test_pause_is_planned_without_extra_requests(client: Client, ledger: Ledger) -> None:
    """An unguarded write is planned from its arguments alone: the one POST it exists for, nothing read first."""
    await call_ok(client, "pause_campaign", {"campaign_id": SCHEDULED_CAMPAIGN_ID})
    assert [(e["method"], e["path"]) for e in ledger()] == [("POST", f"/api/v1/campaigns/{SCHEDULED_CAMPAIGN_ID}/pause")]


@each_resolution
async def test_resume_preview_subtracts_what_was_already_sent(client: Client, sandbox_app: Any) -> None:
    clock = sandbox_app.state.sandbox.clock
    start = clock.now() + timedelta(seconds=10)
    args = campaign(schedule=start.isoformat())
    first = await call_ok(client, "create_campaign", args)
    created = await call_ok(client, "create_campaign", {**args, "confirm_token": first["confirm_token"]})
    cid = created["data"]["id"]
    # running: a few recipients enqueued (1 s past the start whatever real time the calls took)
    clock.advance((start - clock.now()).total_seconds() + 1.0)
    paused = await call_ok(client, "pause_campaign", {"campaign_id": cid})
    queued = paused["data"]["stats"]["queued"]
    assert f"resume_campaign, which would send the message to the recipients still queued ({queued} now)" in paused["summary"]
    clock.advance(120)  # what was enqueued is sent by now
    stats = (await call_ok(client, "get_campaign_stats", {"campaign_id": cid}))["data"]["stats"]
    assert 0 < stats["sent"] + stats["failed"] < stats["planned"]
    preview = (await call_ok(client, "resume_campaign", {"campaign_id": cid}))["preview"]
    done = stats["sent"] + stats["failed"] + stats["skipped"] + stats["cancelled"]
    assert preview["who"]["count"] == stats["queued"] == stats["planned"] - done > 0


async def test_resume_of_a_campaign_that_is_not_paused_warns(client: Client) -> None:
    preview = (await call_ok(client, "resume_campaign", {"campaign_id": SCHEDULED_CAMPAIGN_ID}))["preview"]
    assert any("not paused" in w for w in preview["risk"])
