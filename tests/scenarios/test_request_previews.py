"""What the person confirming an everyday request must read in its preview: who, what, when, cost
and risk (issue 13 part 2), checked as facts in the preview whatever its keys are called."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from msgflash_mcp.sandbox import quotas
from msgflash_mcp.sandbox import seed as S

from .conftest import SandboxState, Session

pytestmark = pytest.mark.anyio
INSTANCE = S.PERSONAL_CONNECTED_INSTANCE_ID
AWA = "+33612345000"
LEADS = [S.contact_id(p) for _, p, tags in S.PERSONAL_CONTACTS if "lead" in tags]
VIP_NAMES = [name for name, _, tags in S.PERSONAL_CONTACTS if "vip" in tags]


def quota_left(state: SandboxState) -> int:
    return int(quotas.outbound_left(state.db, S.USER_ID, state.now()))


def paris_nine_tomorrow(state: SandboxState) -> str:
    paris = ZoneInfo("Europe/Paris")
    day = (state.clock.now().astimezone(paris) + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=paris).isoformat()


def in_an_hour(state: SandboxState) -> str:
    return (state.clock.now() + timedelta(hours=1)).isoformat()


@dataclass
class Case:
    """One request; its preview must contain every fact, a fact being any one of a few wordings
    (computed from the sandbox's state before the call)."""

    tool: str
    arguments: Callable[[SandboxState], dict[str, Any]]
    facts: Callable[[SandboxState], list[str | tuple[str, ...]]]


TEXT_TO_AWA = {"instance_id": INSTANCE, "to": AWA, "type": "text", "text": "Bonjour Awa"}
CASES = {
    "send names the contact": Case("send_message", lambda s: TEXT_TO_AWA, lambda s: ["Awa Diop"]),
    "send shows the quota before and after": Case(
        "send_message", lambda s: TEXT_TO_AWA, lambda s: [str(quota_left(s)), str(quota_left(s) - 1)]),
    "schedule shows the local time": Case(
        "schedule_message", lambda s: {**TEXT_TO_AWA, "scheduled_at": paris_nine_tomorrow(s), "timezone": "Europe/Paris"}, lambda s: ["09:00"]),
    "schedule warns about the identical message already scheduled": Case(
        "schedule_message",
        lambda s: {"instance_id": INSTANCE, "to": "+33612345003", "type": "text", "text": "Rappel : soldes privées demain.",
                   "scheduled_at": in_an_hour(s)},
        lambda s: [("already scheduled", "identical", "same message")]),
    "template send warns about an unfilled variable": Case(
        "send_message", lambda s: {"instance_id": INSTANCE, "to": AWA, "template_id": S.PROMO_TEMPLATE_ID},
        lambda s: ["custom.code"]),
    "send from a disconnected number warns": Case(
        "send_message", lambda s: {**TEXT_TO_AWA, "instance_id": S.PERSONAL_DISCONNECTED_INSTANCE_ID},
        lambda s: ["disconnected"]),
    "template campaign renders a sample for a real recipient": Case(
        "create_campaign",
        lambda s: {"instance_id": INSTANCE, "name": "Promo VIP", "schedule": in_an_hour(s), "recipients_type": "tags",
                   "tags": ["vip"], "template_id": S.PROMO_TEMPLATE_ID, "variables": {"code": "VIP10"}},
        lambda s: [tuple(f"Hello {n.split()[0]}, utilisez VIP10." for n in VIP_NAMES), "Awa Diop"]),
    "campaign shows the quota before and after": Case(
        "create_campaign",
        lambda s: {"instance_id": INSTANCE, "name": "Promo VIP", "schedule": in_an_hour(s), "recipients_type": "tags",
                   "tags": ["vip"], "type": "text", "body": "Promo"},
        lambda s: [str(quota_left(s)), str(quota_left(s) - 5)]),
    "resume shows the text": Case(
        "resume_campaign", lambda s: {"campaign_id": S.SCHEDULED_CAMPAIGN_ID}, lambda s: ["Découvrez la collection été"]),
    "bulk delete names who": Case(
        "bulk_delete_contacts", lambda s: {"contact_ids": LEADS}, lambda s: ["Fatou Sow", "7"]),
    "webhook warns about an existing one to the same URL": Case(
        "create_webhook", lambda s: {"url": "https://example.com/webhooks/msgflash", "events": ["message.received"]},
        lambda s: [(S.DEMO_WEBHOOK_ID, "already", "same URL", "exists")]),
    "status shows the quota before and after": Case(
        "publish_status", lambda s: {"instance_id": INSTANCE, "type": "text", "content": "Ouvert dimanche"},
        lambda s: [str(quota_left(s)), str(quota_left(s) - 1)]),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_preview_tells_the_person_what_they_need(name: str, session: Session, state: SandboxState) -> None:
    case = CASES[name]
    if case.tool == "resume_campaign":
        await session.call("pause_campaign", {"campaign_id": S.SCHEDULED_CAMPAIGN_ID})
    facts = case.facts(state)  # before the call: quotas are read as they stand when previewing
    result = await session.call(case.tool, case.arguments(state))
    assert result["status"] == "confirmation_required", result
    shown = str(result["preview"])
    missing = [fact for fact in facts if not any(w in shown for w in ((fact,) if isinstance(fact, str) else fact))]
    assert not missing, f"{name}: {missing} not in {shown}"
