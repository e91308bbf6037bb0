"""Roles per workspace for signed-in people, with the real provider: viewer / sender / admin from MSGFLASH_ROLES
(by email or by `sub:`), deny by default, checked in the call path before any plan or confirmation, on both eras."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitResult, InputResponses
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, TEAM_INSTANCE_ID
from msgflash_mcp.server.auth import roles
from msgflash_mcp.server.call.principal import person_principal
from msgflash_mcp.server.core.settings import Role
from msgflash_mcp.server.registry import Effect

from tests.conftest import call_error, call_ok, make_settings, mutations
from tests.guard.conftest import personal_contacts
from tests.oauth.conftest import PRINCIPAL_KEY, Stack, bot_auth, mcp_client, person_auth

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

ROLES = {
    # alice by her email claim, bob and the client-credentials bot by their subject
    "personal": {"alice@example.test": "viewer", "sub:bob": "sender", "sub:reporting-bot": "viewer"},
    "sandbox-team": {"Alice@Example.test": "sender", "sub:bob": "sender"},
}
TO_PERSONAL = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345000", "type": "text",
               "text": "Bonjour", "workspace": "personal"}
TO_TEAM = {"instance_id": TEAM_INSTANCE_ID, "to": "+221771234500", "type": "text", "text": "Bonjour",
           "workspace": "sandbox-team"}
ERAS = ["legacy", "2026-07-28"]


@pytest.fixture(name="roles")
def _roles() -> dict[str, dict[str, str]]:
    return ROLES  # the stack's MSGFLASH_ROLES (tests/oauth/conftest.py)


def sent(sandbox_app: Any) -> list[dict[str, Any]]:
    return mutations([dict(e) for e in sandbox_app.state.sandbox.ledger])


def audit_lines(stack: Stack, tool: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stack.audit.read_text().splitlines()] if stack.audit.exists() else []
    return [line for line in lines if line.get("tool") == tool]


def principal(stack: Stack, who: str) -> str:
    return "http:" + person_principal(stack.provider.issuer, who, PRINCIPAL_KEY.encode())


def test_each_effect_needs_its_role() -> None:
    assert {effect: roles.needed(effect) for effect in Effect} == {
        Effect.READ: Role.VIEWER, Effect.WRITE: Role.SENDER, Effect.SEND: Role.SENDER,
        Effect.DELETE: Role.ADMIN, Effect.ADMIN: Role.ADMIN,
    }
    assert roles.allows(Role.ADMIN, Role.SENDER) and not roles.allows(Role.VIEWER, Role.SENDER)
    assert not roles.allows(None, Role.VIEWER)


def test_the_roles_setting_is_json_checked_and_only_for_signed_in_people() -> None:
    issuer = {"oauth_issuer": "https://id.example", "public_url": "https://mcp.example"}
    settings = make_settings(**issuer, roles=json.dumps({"personal": {"Alice@Example.com": "admin"}}))
    assert settings.roles == {"personal": {"alice@example.com": Role.ADMIN}}  # emails compare case-insensitively
    for bad in ('{"personal": {"alice": "admin"}}', '{"personal": {"sub:bot": "owner"}}', '{"Team Acme": {}}', "{"):
        with pytest.raises(ValueError, match=r"MSGFLASH_ROLES|roles"):
            make_settings(**issuer, roles=bad)
    with pytest.raises(ValueError, match="MSGFLASH_ROLES applies to signed-in people"):
        make_settings(roles={"personal": {"sub:bot": "viewer"}})


@pytest.mark.parametrize("mode", ERAS)
async def test_viewer_alice_can_read_but_gets_the_role_error_on_a_send(stack: Stack, sandbox_app: Any, mode: str) -> None:
    async with mcp_client(stack.url, person_auth(stack, "alice"), mode) as alice:
        assert (await call_ok(alice, "list_instances", {"workspace": "personal"}))["workspace"] == "personal (sandbox)"
        text = await call_error(alice, "send_message", TO_PERSONAL)
    assert "send_message needs the sender role in workspace personal" in text
    assert "your role there is viewer" in text and "Nothing was done" in text
    assert "confirm_token" not in text  # refused before the guard: nothing to confirm
    assert sent(sandbox_app) == []
    (line,) = audit_lines(stack, "send_message")
    assert line["outcome"] == "denied: role" and line["role"] == "viewer" and line["workspace"] == "personal"
    assert line["principal"] == principal(stack, "alice")


@pytest.mark.parametrize("mode", ERAS)
async def test_sender_bob_can_send(stack: Stack, sandbox_app: Any, mode: str) -> None:
    async with mcp_client(stack.url, person_auth(stack, "bob"), mode) as bob:
        pending = await call_ok(bob, "send_message", TO_PERSONAL)
        assert pending["status"] == "confirmation_required"
        done = await call_ok(bob, "send_message", {**TO_PERSONAL, "confirm_token": pending["confirm_token"]})
        assert done["status"] == "ok"
        # bob's role does not reach deletes: those need admin
        contact = personal_contacts()[4]["id"]
        text = await call_error(bob, "delete_contact", {"contact_id": contact, "workspace": "personal"})
        assert "needs the admin role in workspace personal; your role there is sender" in text
    assert [(e["method"], e["path"]) for e in sent(sandbox_app)] == [("POST", "/api/v1/messages/send")]
    assert {line["role"] for line in audit_lines(stack, "send_message")} == {"sender"}


async def test_a_client_credentials_bot_maps_to_its_role_by_subject(stack: Stack, sandbox_app: Any) -> None:
    async with mcp_client(stack.url, bot_auth(stack)) as bot:
        listed = await call_ok(bot, "list_workspaces")
        assert [(row["name"], row["role"]) for row in listed["data"]] == [("personal", "viewer")]
        assert (await call_ok(bot, "list_instances", {"workspace": "personal"}))["workspace"] == "personal (sandbox)"
        text = await call_error(bot, "list_instances", {"workspace": "sandbox-team"})
        assert "list_instances needs the viewer role in workspace sandbox-team; you have no role there" in text
    assert sent(sandbox_app) == []


async def test_list_workspaces_shows_each_role_and_switching_needs_one(stack: Stack) -> None:
    async with mcp_client(stack.url, person_auth(stack, "alice")) as alice:
        listed = await call_ok(alice, "list_workspaces")
        assert {row["name"]: row["role"] for row in listed["data"]} == {"personal": "viewer", "sandbox-team": "sender"}
        await call_ok(alice, "switch_workspace", {"workspace": "sandbox-team"})


async def test_an_unknown_person_has_no_workspace(stack: Stack, sandbox_app: Any) -> None:
    async with mcp_client(stack.url, person_auth(stack, "mallory")) as mallory:
        listed = await call_ok(mallory, "list_workspaces")
        assert listed["data"] == []
        text = await call_error(mallory, "list_instances", {"workspace": "personal"})
        assert "you have no role there" in text
        refused = await call_error(mallory, "switch_workspace", {"workspace": "sandbox-team"})
        assert "no role in workspace sandbox-team" in refused
        assert "you have no role there" in await call_error(mallory, "send_message", TO_PERSONAL)
    assert sent(sandbox_app) == []
    assert [line["role"] for line in audit_lines(stack, "send_message")] == ["none"]


async def test_a_confirmation_is_refused_once_the_role_that_minted_it_is_gone(stack: Stack, sandbox_app: Any) -> None:
    async with mcp_client(stack.url, person_auth(stack, "alice")) as alice:
        pending = await call_ok(alice, "send_message", TO_TEAM)
        assert pending["status"] == "confirmation_required"
        runtime = stack.app.state.runtime
        demoted = {**runtime.settings.roles, "sandbox-team": {"alice@example.test": Role.VIEWER}}
        runtime.settings = runtime.settings.model_copy(update={"roles": demoted})
        text = await call_error(alice, "send_message", {**TO_TEAM, "confirm_token": pending["confirm_token"]})
    assert "needs the sender role in workspace sandbox-team; your role there is viewer" in text
    assert sent(sandbox_app) == []


async def never(context: Any, params: Any) -> ElicitResult:
    raise AssertionError("the test answers the rounds itself")


@asynccontextmanager
async def asking_client(stack: Stack, who: str) -> AsyncIterator[Client]:
    """A 2026-07-28 client that can be asked (so the guard asks in rounds); the test answers by hand."""
    async with httpx2.AsyncClient(auth=person_auth(stack, who), timeout=20) as http, \
            Client(streamable_http_client(stack.url, http_client=http), mode="2026-07-28",
                   elicitation_callback=never) as client:
        yield client


async def test_bob_cannot_answer_alices_round(stack: Stack, sandbox_app: Any) -> None:
    """Both may send in sandbox-team, so only the round's owner tells them apart: bob's answer to alice's
    question gets him no effect, and nothing is delivered; alice's own answer then acts, once."""
    async with asking_client(stack, "alice") as alice:
        asked = await alice.session.call_tool("send_message", TO_TEAM, allow_input_required=True)
        requests = getattr(asked, "input_requests", None)
        assert requests, asked
        answers: InputResponses = {key: ElicitResult(action="accept", content={"confirm": True}) for key in requests}
        state = getattr(asked, "request_state", None)
        async with asking_client(stack, "bob") as bob:
            # The SDK binds the round's state to alice's sign-in: bob replaying it is refused outright ...
            with pytest.raises(MCPError, match="requestState"):
                await bob.session.call_tool("send_message", TO_TEAM, input_responses=answers, request_state=state,
                                            allow_input_required=True)
            # ... and her answers without it answer no question bob was asked: he is asked afresh.
            stolen = await bob.session.call_tool("send_message", TO_TEAM, input_responses=answers,
                                                 allow_input_required=True)
        assert not isinstance(stolen, CallToolResult), stolen
        assert getattr(stolen, "input_requests", None), stolen
        assert sent(sandbox_app) == []
        assert audit_lines(stack, "send_message") == []  # questions only: no outcome yet
        done = await alice.session.call_tool("send_message", TO_TEAM, input_responses=answers, request_state=state)
    assert isinstance(done, CallToolResult) and (done.structured_content or {}).get("status") == "ok", done
    assert [(e["method"], e["path"]) for e in sent(sandbox_app)] == [("POST", "/api/v1/messages/send")]
    assert [(line["principal"], line["role"]) for line in audit_lines(stack, "send_message")] == [
        (principal(stack, "alice"), "sender")
    ]


async def test_resources_need_a_role_too(stack: Stack) -> None:
    """What a resource reads is read in a workspace: viewer there, like the read tools; the workspace list shows
    only the caller's own."""
    async with mcp_client(stack.url, person_auth(stack, "alice")) as alice:
        listed = json.loads((await alice.read_resource("msgflash://workspaces")).contents[0].text)  # type: ignore[union-attr]
        assert [row["name"] for row in listed["workspaces"]] == ["personal", "sandbox-team"]
        await call_ok(alice, "switch_workspace", {"workspace": "personal"})
        assert json.loads((await alice.read_resource("msgflash://instances")).contents[0].text)["data"]  # type: ignore[union-attr]
    async with mcp_client(stack.url, person_auth(stack, "mallory")) as mallory:
        listed = json.loads((await mallory.read_resource("msgflash://workspaces")).contents[0].text)  # type: ignore[union-attr]
        assert listed["workspaces"] == []
        with pytest.raises(MCPError, match="needs the viewer role in workspace personal; you have no role there"):
            await mallory.read_resource("msgflash://instances")
