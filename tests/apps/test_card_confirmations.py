"""On MCP Apps hosts every confirmation goes through the person (issue 19, item 7): an edit that needs one shows
the card like a guarded send, never handing its token to the model; `app_approve` and `app_cancel` check the
token (it exists, it is this caller's for this tool and these arguments), and nothing is audited for a token
that does not exist. The sandbox ledger and the audit log are the referees."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PROMO_TEMPLATE_ID,
    WELCOME_TEMPLATE_ID,
)
from msgflash_mcp.server.app import build_server

from tests.conftest import call_ok, make_settings, mutations
from tests.guard.conftest import personal_contacts

from .conftest import apps_extension, card_confirmation

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
TEMPLATE = f"/api/v1/templates/{WELCOME_TEMPLATE_ID}"
CAMPAIGN = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "name": "Bienvenue", "schedule": "2031-06-01T10:00:00Z",
            "recipients_type": "explicit", "contact_ids": [AWA_CONTACT_ID], "template_id": WELCOME_TEMPLATE_ID}
EDIT = {"template_id": WELCOME_TEMPLATE_ID, "body": "Payez ici : https://evil.example/pay"}


def puts(ledger: Ledger, path: str) -> list[dict[str, Any]]:
    return [e for e in mutations(ledger()) if e["method"] == "PUT" and e["path"] == path]


def decision(card: Any) -> dict[str, Any]:
    confirmation = card_confirmation(card)
    return {"tool": confirmation["tool"], "arguments": confirmation["arguments"], "confirm_token": confirmation["token"]}


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.fixture
def audit_log(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def audited(audit_log: Path, sandbox_app: Any) -> MCPServer[Any]:
    return build_server(make_settings(audit_log=audit_log), sandbox_app=sandbox_app)


@pytest.fixture
async def host(audited: MCPServer[Any]) -> AsyncIterator[Client]:
    async with Client(audited, extensions=[apps_extension()]) as client:
        yield client


async def test_an_edit_under_a_pending_campaign_shows_the_card_not_the_token(host: Client, ledger: Ledger) -> None:
    created = await host.call_tool("app_approve", decision(await host.call_tool("create_campaign", CAMPAIGN)))
    assert (created.structured_content or {})["status"] == "ok", created.content

    card = await host.call_tool("update_template", EDIT)
    structured = card.structured_content or {}
    assert structured["status"] == "confirmation_required"
    assert "confirm_token" not in structured  # the model never holds the edit's confirmation
    assert "review card" in structured["summary"]
    confirmation = card_confirmation(card)
    assert confirmation["tool"] == "update_template" and confirmation["effect"] == "write"
    assert puts(ledger, TEMPLATE) == []

    done = await host.call_tool("app_approve", decision(card))
    again = await host.call_tool("app_approve", decision(card))
    assert (done.structured_content or {})["status"] == "ok"
    assert (again.structured_content or {})["status"] == "replayed"
    assert len(puts(ledger, TEMPLATE)) == 1


async def test_an_edit_that_needs_no_confirmation_acts_at_once_on_an_apps_host(host: Client, ledger: Ledger) -> None:
    out = await call_ok(host, "update_template", {"template_id": PROMO_TEMPLATE_ID, "body": "Nouveau texte"})
    assert out["status"] == "ok"
    assert len(puts(ledger, f"/api/v1/templates/{PROMO_TEMPLATE_ID}")) == 1


async def test_the_edit_tools_carry_the_review_view_on_apps_hosts(host: Client) -> None:
    tools = {tool.name: tool for tool in (await host.list_tools()).tools}
    for name in ("update_template", "update_contact", "delete_contact"):
        assert (tools[name].meta or {}).get("ui", {}).get("resourceUri") == "ui://msgflash/review", name


async def test_cancel_refuses_a_token_that_does_not_exist_and_audits_nothing(
    host: Client, audit_log: Path, ledger: Ledger
) -> None:
    contact = personal_contacts()[1]
    for tool, arguments in (("delete_contact", {"contact_id": contact["id"]}),
                            ("create_webhook", {"url": "https://hooks.example/x", "events": ["message.received"]})):
        result = await host.call_tool("app_cancel", {"tool": tool, "arguments": arguments,
                                                     "confirm_token": "cfm_" + "x" * 32})
        assert result.is_error and "unknown or expired" in result.content[0].text  # type: ignore[union-attr]
    assert audit_lines(audit_log) == []
    assert mutations(ledger()) == []


async def test_cancel_and_approve_refuse_another_calls_token_and_audit_nothing(
    host: Client, audit_log: Path, ledger: Ledger
) -> None:
    victim, other = personal_contacts()[1:3]
    card = await host.call_tool("delete_contact", {"contact_id": victim["id"]})
    token = card_confirmation(card)["token"]
    before = audit_lines(audit_log)  # the card's own preview round
    assert [(e["tool"], e["outcome"]) for e in before] == [("delete_contact", "confirmation_required")]
    foreign = [
        ("app_cancel", "send_message", {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345000",
                                        "type": "text", "text": "Bonjour"}),  # another tool
        ("app_cancel", "delete_contact", {"contact_id": other["id"]}),  # other arguments
        ("app_approve", "delete_contact", {"contact_id": other["id"]}),
    ]
    for app_tool, tool, arguments in foreign:
        result = await host.call_tool(app_tool, {"tool": tool, "arguments": arguments, "confirm_token": token})
        assert result.is_error, (app_tool, tool)
        assert "issued for" in result.content[0].text  # type: ignore[union-attr]
    assert audit_lines(audit_log) == before
    assert mutations(ledger()) == []


async def test_a_cancelled_card_cannot_be_approved_afterwards(host: Client, audit_log: Path, ledger: Ledger) -> None:
    contact = personal_contacts()[3]
    card = await host.call_tool("delete_contact", {"contact_id": contact["id"]})
    cancelled = await host.call_tool("app_cancel", decision(card))
    approved = await host.call_tool("app_approve", decision(card))
    assert (cancelled.structured_content or {})["status"] == "declined"
    assert (approved.structured_content or {})["status"] == "replayed"  # the decline stands
    assert "cancelled in the review card" in (approved.structured_content or {})["summary"]
    assert mutations(ledger()) == []
    lines = [(e["tool"], e["confirmation"], e["outcome"]) for e in audit_lines(audit_log)]
    assert lines == [
        ("delete_contact", "token", "confirmation_required"),
        ("delete_contact", "card", "declined"),
        ("delete_contact", "token", "replayed"),
    ]
    assert audit_lines(audit_log)[1]["args"] == {"contact_id": contact["id"]}
