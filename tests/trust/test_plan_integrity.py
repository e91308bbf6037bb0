"""What the person confirms is exactly what runs (issue 11), through real MCP clients against the
sandbox, with its ledger as the referee.

Each attack changes the world between the preview and the write: the active workspace, a group's
membership, a template's text, or a client re-sends an accepted 2026-07-28 round. In every case the
write either equals the confirmed plan, or nothing is sent and the person is asked again with a
line saying what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import ElicitRequestFormParams, ElicitResult, InputResponses
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import PERSONAL_KEY
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PERSONAL_CONTACTS,
    VIP_GROUP_ID,
    WELCOME_TEMPLATE_ID,
    contact_id,
)
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import ConfirmMode

from tests.conftest import call_ok, make_settings, mutations
from tests.resolution import each_resolution
from tests.trust.requirements import requirement

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
TEAM = "sandbox-team"
SEND = "/api/v1/messages/send"
CAMPAIGNS = "/api/v1/campaigns"
AWA = "+33612345000"


def text_message() -> dict[str, Any]:
    return {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": AWA, "type": "text", "text": "Bonjour Awa"}


def writes(ledger: Ledger, path: str) -> list[dict[str, Any]]:
    return [e for e in mutations(ledger()) if e["method"] == "POST" and e["path"] == path]


async def someone_else(sandbox_app: Any, method: str, path: str, body: Any) -> None:
    """Another actor (the dashboard, a teammate) changes the account between preview and confirmation."""
    async with httpx2.AsyncClient(transport=sandbox_transport(sandbox_app), base_url="http://sandbox.invalid") as http:
        response = await http.request(method, path, json=body, headers={"x-api-key": PERSONAL_KEY})
        assert response.status_code < 300, response.text


def switch_everyone(server: MCPServer[Any], name: str) -> None:
    """A `switch_workspace` landing mid-call: every principal's active workspace moves to `name`."""
    store = server.runtime.workspaces._store  # type: ignore[attr-defined]
    for principal in list(store._active):
        store._active[principal] = name


class SwitchingElicitor:
    """Accepts every question; while the first one is on screen, the active workspace switches."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self.server = server
        self.messages: list[str] = []

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        self.messages.append(params.message)
        if len(self.messages) == 1:
            switch_everyone(self.server, TEAM)
        return ElicitResult(action="accept", content={"confirm": True})


# ---------------------------------------------------------------------- concurrent workspace switch


WEBHOOK = {"url": "https://hooks.example/msgflash", "events": ["message.received"]}


@requirement("plan.workspace-race")
async def test_switch_during_the_token_path_sends_nothing_and_says_what_changed(
    client: Client, server: MCPServer[Any], ledger: Ledger
) -> None:
    await call_ok(client, "switch_workspace", {"workspace": "personal"})
    pending = await call_ok(client, "create_webhook", WEBHOOK)
    switch_everyone(server, TEAM)
    again = await call_ok(client, "create_webhook", {**WEBHOOK, "confirm_token": pending["confirm_token"]})
    assert mutations(ledger()) == []
    assert again["status"] == "confirmation_required"
    assert "workspace personal → sandbox-team" in again["preview"]["changes"]
    assert again["preview"]["workspace"] == "sandbox-team (sandbox)"
    assert again["confirm_token"] != pending["confirm_token"]


@requirement("plan.workspace-race")
async def test_switch_during_the_token_path_of_a_send_sends_nothing(
    client: Client, server: MCPServer[Any], ledger: Ledger
) -> None:
    await call_ok(client, "switch_workspace", {"workspace": "personal"})
    pending = await call_ok(client, "send_message", text_message())
    switch_everyone(server, TEAM)
    result = await client.call_tool("send_message", {**text_message(), "confirm_token": pending["confirm_token"]})
    # The personal instance does not exist in the team: the live plan cannot even be built.
    assert result.is_error and "nothing was sent" in result.content[0].text  # type: ignore[union-attr]
    assert writes(ledger, SEND) == []


@requirement("plan.workspace-race")
async def test_switch_during_the_legacy_form_sends_with_the_confirmed_workspace(
    server: MCPServer[Any], ledger: Ledger
) -> None:
    elicitor = SwitchingElicitor(server)
    async with Client(server, mode="legacy", elicitation_callback=elicitor) as client:
        await call_ok(client, "switch_workspace", {"workspace": "personal"})
        out = await call_ok(client, "send_message", text_message())
    assert out["status"] == "ok"
    assert "workspace: personal (sandbox)" in elicitor.messages[0]
    (sent,) = writes(ledger, SEND)
    assert sent["key_kind"] == "personal" and sent.get("team_id") is None  # the confirmed workspace's key


@requirement("plan.workspace-race")
async def test_switch_during_the_modern_form_asks_again_for_the_new_workspace(
    server: MCPServer[Any], ledger: Ledger
) -> None:
    elicitor = SwitchingElicitor(server)
    async with Client(server, mode="auto", elicitation_callback=elicitor) as client:
        await call_ok(client, "switch_workspace", {"workspace": "personal"})
        result = await client.call_tool("create_webhook", WEBHOOK)
    # The answer to the personal question is not accepted for the team plan: the person is asked again.
    assert len(elicitor.messages) == 2
    assert "workspace: personal (sandbox)" in elicitor.messages[0]
    assert "workspace: sandbox-team (sandbox)" in elicitor.messages[1]
    for sent in mutations(ledger()):  # whatever went out carries the key of the workspace last confirmed
        assert sent["key_kind"] == "team"
    assert result.is_error or (result.structured_content or {}).get("status") == "ok"


@requirement("plan.workspace-race")
async def test_switch_during_the_modern_form_of_a_send_sends_nothing(server: MCPServer[Any], ledger: Ledger) -> None:
    elicitor = SwitchingElicitor(server)
    async with Client(server, mode="auto", elicitation_callback=elicitor) as client:
        await call_ok(client, "switch_workspace", {"workspace": "personal"})
        result = await client.call_tool("send_message", text_message())
    assert result.is_error and "nothing was sent" in result.content[0].text  # type: ignore[union-attr]
    assert writes(ledger, SEND) == []


# ---------------------------------------------------------------------- group growth


async def _campaign_preview(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    args = {
        "instance_id": PERSONAL_CONNECTED_INSTANCE_ID,
        "name": "Offre VIP",
        "schedule": "2031-06-01T10:00:00Z",
        "recipients_type": "group",
        "group_id": VIP_GROUP_ID,
        "type": "text",
        "body": "Offre réservée",
    }
    return args, await call_ok(client, "create_campaign", args)


def _outsiders(n: int) -> list[str]:
    """Seeded personal contacts that are not in the VIP group yet."""
    return [contact_id(phone) for _name, phone, tags in PERSONAL_CONTACTS if "vip" not in tags][:n]


@requirement("plan.group-growth")
@each_resolution
async def test_group_growth_after_the_preview_sends_nothing_and_asks_again(
    client: Client, sandbox_app: Any, ledger: Ledger, resolution: str
) -> None:
    args, first = await _campaign_preview(client)
    before = first["preview"]["who"]["count"]
    added = _outsiders(3)
    await someone_else(sandbox_app, "POST", f"/api/v1/contacts/groups/{VIP_GROUP_ID}/members", {"contactIds": added})
    again = await call_ok(client, "create_campaign", {**args, "confirm_token": first["confirm_token"]})
    assert writes(ledger, CAMPAIGNS) == []
    assert again["status"] == "confirmation_required"
    assert f"recipients {before} → {before + len(added)}" in again["preview"]["changes"]
    done = await call_ok(client, "create_campaign", {**args, "confirm_token": again["confirm_token"]})
    assert done["status"] == "ok" and f", {before + len(added)} " in done["summary"]  # the count confirmed
    assert done["data"]["stats"]["planned"] == (before + len(added) if resolution == "create" else 0)


@requirement("plan.group-growth", "policy.every-path")
async def test_group_growth_under_a_cap_is_frozen_to_the_confirmed_ids(sandbox_app: Any, ledger: Ledger) -> None:
    server = build_server(make_settings(max_recipients=50), sandbox_app=sandbox_app)
    async with Client(server) as client:
        args, first = await _campaign_preview(client)
        assert "frozen to" in first["preview"]["who"]["selector"]
        before = first["preview"]["who"]["count"]
        await someone_else(
            sandbox_app, "POST", f"/api/v1/contacts/groups/{VIP_GROUP_ID}/members", {"contactIds": _outsiders(2)}
        )
        again = await call_ok(client, "create_campaign", {**args, "confirm_token": first["confirm_token"]})
        assert again["status"] == "confirmation_required" and writes(ledger, CAMPAIGNS) == []
        assert f"recipients {before} → {before + 2}" in again["preview"]["changes"]
        done = await call_ok(client, "create_campaign", {**args, "confirm_token": again["confirm_token"]})
    assert done["data"]["recipients"]["type"] == "explicit"  # later joiners cannot be added by the API
    assert len(done["data"]["recipients"]["value"]) == before + 2


@requirement("plan.group-growth", "inject.volume-cap")
async def test_group_growth_past_the_cap_is_refused(sandbox_app: Any, ledger: Ledger) -> None:
    server = build_server(make_settings(max_recipients=6), sandbox_app=sandbox_app)
    async with Client(server) as client:
        args, first = await _campaign_preview(client)
        await someone_else(
            sandbox_app, "POST", f"/api/v1/contacts/groups/{VIP_GROUP_ID}/members", {"contactIds": _outsiders(3)}
        )
        result = await client.call_tool("create_campaign", {**args, "confirm_token": first["confirm_token"]})
    assert result.is_error and "MSGFLASH_MAX_RECIPIENTS" in result.content[0].text  # type: ignore[union-attr]
    assert writes(ledger, CAMPAIGNS) == []


# ---------------------------------------------------------------------- content swap


@requirement("plan.content-swap")
async def test_template_edited_after_the_preview_sends_nothing(client: Client, sandbox_app: Any, ledger: Ledger) -> None:
    args = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": AWA, "template_id": WELCOME_TEMPLATE_ID,
            "contact_id": AWA_CONTACT_ID}
    first = await call_ok(client, "send_message", args)
    await someone_else(sandbox_app, "PUT", f"/api/v1/templates/{WELCOME_TEMPLATE_ID}",
                       {"body": "Votre compte est bloqué : https://evil.example/login"})
    again = await call_ok(client, "send_message", {**args, "confirm_token": first["confirm_token"]})
    assert writes(ledger, SEND) == []
    assert again["status"] == "confirmation_required"
    assert ('template text changed: "Bonjour Awa, bienvenue chez boutique-principale !" → '
            '"Votre compte est bloqué : https://evil.example/login"') in again["preview"]["changes"]
    assert "links 0 → 1 (added https://evil.example/login)" in again["preview"]["changes"]
    assert "evil.example" in again["preview"]["what"]["text"]


# ---------------------------------------------------------------------- modern-era replay


@requirement("plan.modern-replay")
async def test_replayed_final_round_sends_exactly_once(server: MCPServer[Any], ledger: Ledger) -> None:
    async def never(context: Any, params: Any) -> ElicitResult:
        raise AssertionError("the test answers the round itself")

    async with Client(server, mode="auto", elicitation_callback=never) as client:
        first = await client.session.call_tool("send_message", text_message(), allow_input_required=True)
        requests = getattr(first, "input_requests", None)
        assert requests, first
        answers: InputResponses = {key: ElicitResult(action="accept", content={"confirm": True}) for key in requests}
        state = first.request_state  # type: ignore[union-attr]
        done = await client.call_tool("send_message", text_message(), input_responses=answers, request_state=state)
        again = await client.call_tool("send_message", text_message(), input_responses=answers, request_state=state)
    assert (done.structured_content or {})["status"] == "ok"
    assert (again.structured_content or {})["status"] == "replayed"
    assert len(writes(ledger, SEND)) == 1


@requirement("plan.modern-replay")
async def test_a_new_identical_call_on_the_modern_era_acts_again(server: MCPServer[Any], ledger: Ledger) -> None:
    """Rounds carry no nonce, so a second call asking the very same question must not be taken for a re-sent
    final round of the first: each fresh question carries its own reference. A verbatim re-send still acts
    only once (and one accepted answer never acts twice: tests/guard/test_one_answer.py)."""
    args = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "name": "Rappel", "schedule": "2031-06-01T10:00:00Z",
            "recipients_type": "explicit", "contact_ids": [contact_id(AWA)], "type": "text", "body": "Rappel"}

    async def never(context: Any, params: Any) -> ElicitResult:
        raise AssertionError("the test answers the rounds itself")

    async with Client(server, mode="auto", elicitation_callback=never) as client:
        questions: list[str] = []
        answers: InputResponses = {}
        state = None
        for _ in range(2):
            first = await client.session.call_tool("create_campaign", args, allow_input_required=True)
            requests = getattr(first, "input_requests", None)
            assert requests, first
            questions += [request.params.message for request in requests.values()]
            answers = {key: ElicitResult(action="accept", content={"confirm": True}) for key in requests}
            state = first.request_state  # type: ignore[union-attr]
            done = await client.call_tool("create_campaign", args, input_responses=answers, request_state=state)
            assert (done.structured_content or {})["status"] == "ok", done
        again = await client.call_tool("create_campaign", args, input_responses=answers, request_state=state)
    # The same question both times, each asked with a reference of its own: what tells a new call's answer from
    # a re-sent one (the era's rounds carry no nonce).
    (first_text, first_ref), (second_text, second_ref) = (q.rsplit("Confirmation reference: ", 1) for q in questions)
    assert first_text == second_text and first_ref != second_ref
    assert (again.structured_content or {})["status"] == "replayed"
    assert len(writes(ledger, CAMPAIGNS)) == 2


# ---------------------------------------------------------------------- outcome never hidden


def unconfirmed(sandbox_app: Any) -> MCPServer[Any]:
    return build_server(make_settings(confirm=ConfirmMode.OFF), sandbox_app=sandbox_app)


async def test_an_audit_failure_after_the_write_never_turns_it_into_an_error(sandbox_app: Any, ledger: Ledger) -> None:
    async def broken(**_: Any) -> None:
        raise OSError("disk full")

    server = unconfirmed(sandbox_app)
    server.runtime.audit.record = broken  # type: ignore[attr-defined]
    async with Client(server) as client:
        out = await call_ok(client, "send_message", text_message())
    assert out["status"] == "ok"
    assert len(writes(ledger, SEND)) == 1


async def test_an_unforeseen_failure_after_the_request_left_says_outcome_unknown(
    sandbox_app: Any, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from msgflash_mcp.tools import messages

    def boom(*_: Any, **__: Any) -> Any:
        raise KeyError("a field the reply builder did not expect")

    monkeypatch.setattr(messages, "_sent_reply", boom)
    server = unconfirmed(sandbox_app)
    async with Client(server) as client:
        result = await client.call_tool("send_message", text_message())
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and "outcome unknown" in text and "before retrying" in text and "KeyError" in text
    assert len(writes(ledger, SEND)) == 1


# ---------------------------------------------------------------------- over HTTP


@requirement("plan.workspace-race")
async def test_switch_by_a_second_http_session_of_the_same_principal_during_the_token_path(
    monkeypatch: pytest.MonkeyPatch, sandbox_app: Any, ledger: Ledger
) -> None:
    """Two HTTP sessions with one bearer token are one principal: B's switch lands between A's preview and
    A's confirmation. Nothing is sent; A is shown the new plan and what changed."""
    from mcp.client.streamable_http import streamable_http_client
    from msgflash_mcp.server.transport.serve import http_app

    from tests.e2e.test_http import ENDPOINT, PORT, TOKEN, running

    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", TOKEN)
    app = http_app(make_settings(), port=PORT, sandbox_app=sandbox_app)
    async with (
        running(app, TOKEN) as http,
        Client(streamable_http_client(ENDPOINT, http_client=http)) as a,
        Client(streamable_http_client(ENDPOINT, http_client=http)) as b,
    ):
        await call_ok(b, "switch_workspace", {"workspace": "personal"})
        pending = await call_ok(a, "create_webhook", WEBHOOK)
        await call_ok(b, "switch_workspace", {"workspace": TEAM})
        again = await call_ok(a, "create_webhook", {**WEBHOOK, "confirm_token": pending["confirm_token"]})
    assert again["status"] == "confirmation_required"
    assert "workspace personal → sandbox-team" in again["preview"]["changes"]
    assert mutations(ledger()) == []
