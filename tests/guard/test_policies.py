"""Policies (recipient allow-list, URL allow-list, max recipients) are checked on the preview and
again when a token is redeemed: a refused call sends nothing, whatever anyone confirms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, VIP_GROUP_ID
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.guard import Guard
from msgflash_mcp.server.runtime import guard_policy

from tests.conftest import call_error, call_ok, make_settings, mutations

from .conftest import Elicitor, personal_contacts

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
INSTANCE = PERSONAL_CONNECTED_INSTANCE_ID
SCHEDULE = "2031-01-01T10:00:00+00:00"


def text_message(to: str, text: str = "Bonjour, votre commande est prête.") -> dict[str, Any]:
    return {"instance_id": INSTANCE, "to": to, "type": "text", "text": text}


def campaign(**recipients: Any) -> dict[str, Any]:
    return {
        "instance_id": INSTANCE,
        "name": "Soldes",
        "schedule": SCHEDULE,
        "type": "text",
        "body": "Promo",
        **recipients,
    }


def nothing_sent(ledger: Ledger) -> None:
    assert mutations(ledger()) == []
    assert [e for e in ledger() if e["method"] != "GET"] == []


def server_with(sandbox_app: Any, **overrides: Any) -> MCPServer[Any]:
    return build_server(make_settings(**overrides), sandbox_app=sandbox_app)


# ---------------------------------------------------------------- recipient allow-list


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_send_outside_recipient_allowlist_is_refused(mode: str, sandbox_app: Any, ledger: Ledger) -> None:
    server = server_with(sandbox_app, recipient_allowlist="+33612345001,+33612345002")
    elicitor = Elicitor("accept")
    async with Client(server, mode=mode, elicitation_callback=elicitor) as client:
        text = await call_error(client, "send_message", text_message("+33698765432"))
    assert "refused by policy" in text and "MSGFLASH_RECIPIENT_ALLOWLIST" in text and "+33698765432" in text
    assert elicitor.messages == []  # nobody is asked to approve what policy forbids
    nothing_sent(ledger)


async def test_send_inside_recipient_allowlist_goes_through_the_token_flow(sandbox_app: Any, ledger: Ledger) -> None:
    server = server_with(sandbox_app, recipient_allowlist=["+33 6 12 34 50 01"])  # spacing does not matter
    args = text_message("+33612345001")
    async with Client(server) as client:
        pending = await call_ok(client, "send_message", args)
        assert pending["status"] == "confirmation_required"
        done = await call_ok(client, "send_message", {**args, "confirm_token": pending["confirm_token"]})
    assert done["status"] == "ok"
    assert [e["path"] for e in mutations(ledger())] == ["/api/v1/messages/send"]


async def test_fabricated_or_foreign_token_cannot_bypass_the_allowlist(sandbox_app: Any, ledger: Ledger) -> None:
    server = server_with(sandbox_app, recipient_allowlist=["+33612345001"])
    async with Client(server) as client:
        allowed = await call_ok(client, "send_message", text_message("+33612345001"))
        # reuse the allowed call's valid token for a forbidden recipient
        text = await call_error(
            client, "send_message", {**text_message("+33698765432"), "confirm_token": allowed["confirm_token"]}
        )
    assert "nothing was sent" in text
    nothing_sent(ledger)


async def test_policy_is_checked_again_when_the_token_is_redeemed(sandbox_app: Any, ledger: Ledger) -> None:
    """A token minted under a looser configuration (another replica, before a restart) is refused."""
    server = server_with(sandbox_app)
    runtime = server.runtime  # type: ignore[attr-defined]
    args = text_message("+33698765432")
    async with Client(server) as client:
        pending = await call_ok(client, "send_message", args)
        strict = runtime.settings.model_copy(update={"recipient_allowlist": ["+33612345001"]})
        runtime.guard = Guard(guard_policy(strict), runtime.guard.store)  # same token store, stricter policy
        text = await call_error(client, "send_message", {**args, "confirm_token": pending["confirm_token"]})
    assert "refused by policy" in text
    nothing_sent(ledger)


async def test_dry_run_still_applies_policy(sandbox_app: Any, ledger: Ledger) -> None:
    server = server_with(sandbox_app, dry_run=True, recipient_allowlist=["+33612345001"])
    async with Client(server) as client:
        assert "refused by policy" in await call_error(client, "send_message", text_message("+33698765432"))
        ok = await call_ok(client, "send_message", text_message("+33612345001"))
    assert ok["status"] == "dry_run"
    nothing_sent(ledger)


# ---------------------------------------------------------------- URL allow-list


async def test_webhook_outside_url_allowlist_is_refused(sandbox_app: Any, ledger: Ledger) -> None:
    server = server_with(sandbox_app, url_allowlist="hooks.example.com")
    async with Client(server) as client:
        text = await call_error(
            client, "create_webhook", {"url": "https://hooks.evil.example/in", "events": ["message.received"]}
        )
        assert "MSGFLASH_URL_ALLOWLIST" in text and "https://hooks.evil.example/in" in text
        # look-alikes: suffix without a dot boundary, userinfo trick
        for url in ("https://evilhooks.example.com/in", "https://hooks.example.com@evil.example/in"):
            assert "refused by policy" in await call_error(
                client, "create_webhook", {"url": url, "events": ["message.received"]}
            )
        ok = await call_ok(
            client, "create_webhook", {"url": "https://in.hooks.example.com/x", "events": ["message.received"]}
        )
    assert ok["status"] == "confirmation_required"
    nothing_sent(ledger)


@pytest.mark.parametrize(
    "args",
    [
        {"instance_id": INSTANCE, "to": "+33612345001", "type": "image", "media_url": "https://cdn.evil.example/a.png"},
        text_message("+33612345001", "Cliquez ici: https://evil.example/pay?x=1"),
    ],
    ids=["media", "link-in-text"],
)
async def test_message_link_outside_url_allowlist_is_refused(
    args: dict[str, Any], sandbox_app: Any, ledger: Ledger
) -> None:
    server = server_with(sandbox_app, url_allowlist=["example.com"])
    async with Client(server) as client:
        text = await call_error(client, "send_message", args)
    assert "refused by policy" in text and "evil.example" in text
    nothing_sent(ledger)


# ---------------------------------------------------------------- max recipients


async def test_campaign_over_max_recipients_is_refused(sandbox_app: Any, ledger: Ledger) -> None:
    server = server_with(sandbox_app, max_recipients=3)
    ids = [c["id"] for c in personal_contacts()[1:5]]
    async with Client(server) as client:
        text = await call_error(client, "create_campaign", campaign(recipients_type="explicit", contact_ids=ids))
        assert "4 recipients" in text and "MSGFLASH_MAX_RECIPIENTS" in text
        assert "refused by policy" in await call_error(client, "create_campaign", campaign(recipients_type="all"))
        ok = await call_ok(client, "create_campaign", campaign(recipients_type="explicit", contact_ids=ids[:3]))
    assert ok["status"] == "confirmation_required"
    nothing_sent(ledger)


async def test_group_that_grew_past_the_cap_after_the_preview_is_refused(sandbox_app: Any, ledger: Ledger) -> None:
    """Time of check vs time of use: the cap holds when the token is redeemed, not only at preview."""
    server = server_with(sandbox_app, max_recipients=5)  # the VIP group has 5 members
    args = campaign(recipients_type="group", group_id=VIP_GROUP_ID)
    async with Client(server) as client:
        pending = await call_ok(client, "create_campaign", args)
        assert pending["preview"]["who"]["count"] == 5
        members = await call_ok(client, "list_group_members", {"group_id": VIP_GROUP_ID})
        inside = {m["id"] for m in members["data"]["members"]}
        newcomer = next(c["id"] for c in personal_contacts() if c["id"] not in inside)
        await call_ok(client, "add_group_members", {"group_id": VIP_GROUP_ID, "contact_ids": [newcomer]})
        before = len(mutations(ledger()))
        text = await call_error(client, "create_campaign", {**args, "confirm_token": pending["confirm_token"]})
    assert "6 recipients" in text
    assert len(mutations(ledger())) == before  # only the group change, no campaign
    assert not [e for e in ledger() if e["path"] == "/api/v1/campaigns" and e["method"] == "POST"]


def test_policy_problem_unit() -> None:
    """The guard asks policy.py about the plan (URL parsing cases: tests/guard/test_policy_urls.py)."""
    from msgflash_mcp.server.guard.plan import Plan

    def plan(**parts: Any) -> Plan:
        return Plan(tool="send_message", action="x", workspace="personal", **parts)

    guard = Guard(guard_policy(
        make_settings(max_recipients=2, recipient_allowlist=["+221 77 000 00 01"], url_allowlist=["https://ok.test"])
    ))
    assert guard.policy_problem(plan(recipients=1, numbers=("+221770000001",), urls=("https://a.ok.test/p",))) is None
    # fails closed: 2 recipients, only one number known to check
    assert "ALLOWLIST" in (guard.policy_problem(plan(recipients=2, numbers=("+221770000001",))) or "")
    assert "cap" in (guard.policy_problem(plan(recipients=3)) or "")
    assert "cap" in (guard.policy_problem(plan(numbers=("1", "2", "3"))) or "")
    assert "ALLOWLIST" in (guard.policy_problem(plan(numbers=("+221770000002",))) or "")
    for url in (
        "http://ok.test.evil/",
        "javascript:alert(1)",
        "https://[::1/",
        "ftp://ok.test/x",
        "https://notok.test",
        "https://evil.example\\.ok.test/hook",
    ):
        assert "URL_ALLOWLIST" in (guard.policy_problem(plan(urls=(url,))) or ""), url
    assert guard.policy_problem(plan(blocked="instance is disconnected")) == "instance is disconnected"
