"""Per-tool scopes: each tool needs `msgflash:<its effect>`. A token without it gets the 403 step-up challenge
naming that scope at the HTTP gate (both eras), and the call path refuses it again whatever reached it."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.auth.resource_server import oauth_auth
from msgflash_mcp.server.call.principal import person_principal

from tests.conftest import call_error, call_ok, make_settings, mutations
from tests.guard.conftest import personal_contacts
from tests.oauth.conftest import EVERYONE_ADMIN, PRINCIPAL_KEY, MemoryStorage, Stack, mcp_client, person_auth
from tests.oauth.provider import READ, SEND

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

MESSAGE = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345000", "type": "text", "text": "Bonjour",
           "workspace": "personal"}


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


async def post(stack: Stack, body: dict[str, Any], token: str | None) -> httpx2.Response:
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json",
               **({"authorization": f"Bearer {token}"} if token else {})}
    with anyio.fail_after(20):
        async with httpx2.AsyncClient(timeout=10) as http:
            return await http.post(stack.url, content=json.dumps(body), headers=headers)


async def test_a_read_only_token_gets_the_step_up_challenge_naming_the_scope(stack: Stack, sandbox_app: Any) -> None:
    token = await stack.provider.client_credentials(scope=READ)  # the bot may only read
    refused = await post(stack, tool_call("send_message", MESSAGE), token)
    assert refused.status_code == 403
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and f'scope="{SEND}"' in challenge
    assert f'resource_metadata="{stack.origin}/.well-known/oauth-protected-resource/mcp"' in challenge
    deleting = await post(stack, tool_call("delete_contact", {"contact_id": "x"}), token)
    assert deleting.status_code == 403 and 'scope="msgflash:delete"' in deleting.headers["www-authenticate"]
    # A read passes the gate (the SDK then wants a session: this raw request has none).
    reading = await post(stack, tool_call("list_instances", {}), token)
    assert reading.status_code != 403 and "www-authenticate" not in reading.headers
    assert mutations([dict(e) for e in sandbox_app.state.sandbox.ledger]) == []


async def test_without_a_token_the_challenge_names_the_baseline_and_the_tools_scope(stack: Stack) -> None:
    """A 2026-07-28 client's first request may be the call itself: it signs in once with both scopes."""
    refused = await post(stack, tool_call("send_message", MESSAGE), None)
    assert refused.status_code == 401
    assert f'scope="{READ} {SEND}"' in refused.headers["www-authenticate"]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_sdk_client_steps_up_from_read_to_send_then_meets_the_guard(stack: Stack, mode: str) -> None:
    storage = MemoryStorage()
    async with mcp_client(stack.url, person_auth(stack, "alice", storage), mode) as alice:
        await call_ok(alice, "list_instances", {"workspace": "personal"})
        assert storage.tokens is not None and storage.tokens.scope == READ
        pending = await call_ok(alice, "send_message", MESSAGE)
        assert pending["status"] == "confirmation_required"  # through the gate, stopped by the guard as ever
    assert storage.tokens is not None and set((storage.tokens.scope or "").split()) == {READ, SEND}
    assert len(storage.registrations) == 1  # the same registration, granted the wider scope
    alice_principal = "http:" + person_principal(stack.provider.issuer, "alice", PRINCIPAL_KEY.encode())
    lines = [json.loads(line) for line in stack.audit.read_text().splitlines()]
    assert [line["principal"] for line in lines if line.get("tool") == "send_message"] == [alice_principal]


async def test_the_call_path_refuses_a_tool_whose_scope_the_token_lacks(stack: Stack, sandbox_app: Any) -> None:
    """The same server without the HTTP gate: what reaches a tool without its scope is still refused, before
    any plan or confirmation (the 2025-11-25 era has no Mcp-Name header; a gate that missed it must not matter)."""
    settings = make_settings(oauth_issuer=stack.provider.issuer, public_url=stack.origin, roles=EVERYONE_ADMIN)
    server = build_server(settings, sandbox_app=sandbox_app, **oauth_auth(settings, lambda: server.runtime.clock))
    app = server.streamable_http_app(host="127.0.0.1")  # the SDK's app alone: no scope gate
    token = await stack.provider.client_credentials(scope=READ)
    contact = personal_contacts()[1]
    headers = {"authorization": f"Bearer {token}"}
    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), \
                httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=stack.origin,
                                   headers=headers, timeout=20) as http, \
                Client(streamable_http_client(stack.url, http_client=http)) as bot:
            assert (await call_ok(bot, "list_instances", {"workspace": "personal"}))["workspace"] == "personal (sandbox)"
            text = await call_error(bot, "delete_contact", {"contact_id": contact["id"], "workspace": "personal"})
            assert "needs the OAuth scope msgflash:delete" in text and "nothing was done" in text
            assert "confirm_token" not in text
    assert mutations([dict(e) for e in sandbox_app.state.sandbox.ledger]) == []
