"""The audit line of a caller over HTTP names, beside the pseudonymous principal, the client and (signed-in people)
the token's scopes, with role, workspace and decision; never the token. Real provider, real SDK OAuth clients."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.auth.resource_server import oauth_auth
from msgflash_mcp.server.call.principal import person_principal, token_principal
from msgflash_mcp.server.install_key import principal_key
from msgflash_mcp.server.transport.serve import http_app

from tests.conftest import call_error, call_ok, make_settings
from tests.guard.conftest import Elicitor, personal_contacts
from tests.oauth.conftest import PRINCIPAL_KEY, MemoryStorage, Stack, person_auth
from tests.oauth.provider import BOT_ID, READ, SEND

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

MESSAGE = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345000", "type": "text", "text": "Bonjour"}
# alice sends in her personal workspace and only reads in the team's; the bot reads.
ROLES = {"personal": {"sub:alice": "admin", f"sub:{BOT_ID}": "viewer"}, "sandbox-team": {"sub:alice": "viewer"}}


@pytest.fixture(name="roles")
def _roles() -> dict[str, dict[str, str]]:
    return ROLES


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def person(stack: Stack, who: str) -> str:
    return "http:" + person_principal(stack.provider.issuer, who, PRINCIPAL_KEY.encode())


@asynccontextmanager
async def signed_in(stack: Stack, storage: MemoryStorage, **client: Any) -> AsyncIterator[Client]:
    """alice through the SDK's OAuth client (a registration of her own per storage)."""
    async with httpx2.AsyncClient(auth=person_auth(stack, "alice", storage), timeout=20) as http, \
            Client(streamable_http_client(stack.url, http_client=http), **client) as alice:
        yield alice


async def test_alices_lines_name_her_pseudonym_client_scopes_role_workspace_and_decision(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first, second = MemoryStorage(), MemoryStorage()
    personal = {**MESSAGE, "workspace": "personal"}
    with anyio.fail_after(90):
        async with signed_in(stack, first) as alice:
            pending = await call_ok(alice, "send_message", personal)  # steps up from read to send, then the guard
            assert pending["status"] == "confirmation_required"
            done = await call_ok(alice, "send_message", {**personal, "confirm_token": pending["confirm_token"]})
            assert done["status"] == "ok"
            refused = await call_error(alice, "send_message", {**MESSAGE, "workspace": "sandbox-team"})
            assert "needs the sender role in workspace sandbox-team" in refused
        # Claude registers a client per connection: another client_id, the same person.
        async with signed_in(stack, second, elicitation_callback=Elicitor("decline")) as alice:
            assert (await call_ok(alice, "send_message", personal))["status"] == "declined"

    assert first.client is not None and second.client is not None and first.tokens and second.tokens
    assert first.client.client_id != second.client.client_id
    granted = sorted((first.tokens.scope or "").split())
    assert granted == [READ, SEND]
    lines = audit_lines(stack.audit)
    assert [(line["client"], line["workspace"], line["role"], line["confirmation"], line["outcome"])
            for line in lines] == [
        (first.client.client_id, "personal", "admin", "token", "confirmation_required"),
        (first.client.client_id, "personal", "admin", "token", "ok"),
        (first.client.client_id, "sandbox-team", "viewer", "none", "denied: role"),
        (second.client.client_id, "personal", "admin", "elicited", "declined"),
    ]
    assert {line["principal"] for line in lines} == {person(stack, "alice")}
    assert [line["scopes"] for line in lines[:3]] == [granted] * 3
    assert lines[3]["scopes"] == sorted((second.tokens.scope or "").split())
    assert all(line["tool"] == "send_message" for line in lines)
    # Never the token, nor any part of it (its signature, its payload), in the audit or the logs.
    text = stack.audit.read_text()
    for storage in (first, second):
        assert storage.tokens is not None
        raw = storage.tokens.access_token
        for part in (raw, *raw.split(".")):
            assert part not in text
            assert part not in caplog.text


async def test_a_bot_line_names_its_client_and_a_refusal_by_scope(stack: Stack, sandbox_app: Any, tmp_path: Path) -> None:
    """The server without its HTTP gate (as a 2025-11-25 request the gate cannot read): the call path refuses the
    bot's read-only token a delete, and the line says `denied: scope`, naming the bot's client and scopes."""
    audit = tmp_path / "gateless-audit.jsonl"
    settings = make_settings(oauth_issuer=stack.provider.issuer, public_url=stack.origin, roles=ROLES, audit_log=audit)
    server = build_server(settings, sandbox_app=sandbox_app, **oauth_auth(settings, lambda: server.runtime.clock))
    app = server.streamable_http_app(host="127.0.0.1")
    token = await stack.provider.client_credentials(scope=READ)
    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), \
                httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=stack.origin,
                                   headers={"authorization": f"Bearer {token}"}, timeout=20) as http, \
                Client(streamable_http_client(stack.url, http_client=http)) as bot:
            contact = personal_contacts()[1]["id"]
            text = await call_error(bot, "delete_contact", {"contact_id": contact, "workspace": "personal"})
            assert "needs the OAuth scope msgflash:delete" in text
    (line,) = audit_lines(audit)
    assert line["client"] == BOT_ID and line["scopes"] == [READ]
    assert line["principal"] == person(stack, BOT_ID)  # a bot is a subject of its issuer, like a person
    assert (line["tool"], line["outcome"], line["workspace"]) == ("delete_contact", "denied: scope", None)
    assert "role" not in line  # refused before any workspace, so before any role
    assert token not in audit.read_text() and token.split(".")[2] not in audit.read_text()


async def test_a_static_token_line_names_the_client_it_maps_to_and_no_scopes(tmp_path: Path, sandbox_app: Any) -> None:
    """MSGFLASH_HTTP_TOKEN: each token is a client named by its keyed hash (its principal); it grants no scopes."""
    tokens = ("static-token-one-0123456789", "static-token-two-0123456789")
    audit = tmp_path / "audit.jsonl"
    settings = make_settings(http_token=",".join(tokens), audit_log=audit, principal_key=PRINCIPAL_KEY)
    app = http_app(settings, host="127.0.0.1", port=8765, sandbox_app=sandbox_app)
    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), \
                httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8765",
                                   headers={"authorization": f"Bearer {tokens[1]}"}, timeout=20) as http, \
                Client(streamable_http_client("http://127.0.0.1:8765/mcp", http_client=http)) as client:
            pending = await call_ok(client, "send_message", MESSAGE)
            assert pending["status"] == "confirmation_required"
    (line,) = audit_lines(audit)
    client_name = token_principal(tokens[1], principal_key(settings))
    assert line["client"] == client_name and line["principal"] == "http:" + client_name
    assert "scopes" not in line and "role" not in line  # no scopes, no roles: not a signed-in person
    assert (line["outcome"], line["confirmation"], line["workspace"]) == ("confirmation_required", "token", "personal")
    assert all(token not in audit.read_text() for token in tokens)
