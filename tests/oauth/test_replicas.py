"""Two replicas through one Redis agree on roles, confirmations and principals (issue 23's Check).

Replicas A and B (tests/oauth/conftest.py `replicas`) run under uvicorn on their own ports, in front of one sandbox,
with one principal key and one public URL, and no proxy: each client talks to the replica the test names. People
sign in with the SDK's OAuth client on A (the resource their tokens are bound to) and take the same tokens to B,
as a load balancer would send them there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitResult, InputResponses
from msgflash_mcp.sandbox.seed import TEAM_INSTANCE_ID
from msgflash_mcp.server.__main__ import main as cli
from msgflash_mcp.server.call.principal import person_principal

from tests.conftest import call_error, call_ok, mutations
from tests.oauth.conftest import PRINCIPAL_KEY, MemoryStorage, Replicas, Stack, mcp_client, person_auth
from tests.oauth.test_resource_server import HEADERS, INITIALIZE

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ROLES = {
    "personal": {"sub:alice": "admin", "sub:bob": "sender"},
    "sandbox-team": {"sub:alice": "sender", "sub:bob": "sender"},
}
TO_TEAM = {"instance_id": TEAM_INSTANCE_ID, "to": "+221771234500", "type": "text", "text": "Bonjour",
           "workspace": "sandbox-team"}
SESSION_CAP = 3


@pytest.fixture(name="roles")
def _roles() -> dict[str, dict[str, str]]:
    return ROLES


@pytest.fixture(name="replica_settings")
def _replica_settings() -> dict[str, Any]:
    return {"max_sessions_per_client": SESSION_CAP}


def sent(sandbox_app: Any) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in mutations([dict(e) for e in sandbox_app.state.sandbox.ledger])]


def principal(replicas: Replicas, who: str) -> str:
    return "http:" + person_principal(replicas.provider.issuer, who, PRINCIPAL_KEY.encode())


def audit_lines(stack: Stack, tool: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stack.audit.read_text().splitlines()] if stack.audit.exists() else []
    return [line for line in lines if line.get("tool") == tool]


async def sign_in_on_a(replicas: Replicas, who: str) -> MemoryStorage:
    """`who` signs in on A and steps up to the send scope there (a send left unconfirmed): the tokens then serve
    on B as they are, with nothing more to ask the provider."""
    storage = MemoryStorage()
    async with mcp_client(replicas.a.url, person_auth(replicas.a, who, storage)) as client:
        assert (await call_ok(client, "send_message", TO_TEAM))["status"] == "confirmation_required"
    assert storage.tokens is not None and "msgflash:send" in (storage.tokens.scope or "")
    return storage


def on(stack: Stack, who: str, storage: MemoryStorage, mode: str = "legacy") -> Any:
    return mcp_client(stack.url, person_auth(stack, who, storage), mode)


async def run_cli(replicas: Replicas, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """`msgflash-mcp roles ...` as an operator runs it, with the deployment's environment (in a thread: it runs
    its own event loop)."""
    for name, value in {
        "MSGFLASH_SANDBOX": "true", "MSGFLASH_OAUTH_ISSUER": replicas.provider.issuer,
        "MSGFLASH_PUBLIC_URL": replicas.a.origin, "MSGFLASH_REDIS_URL": replicas.redis_url,
        "MSGFLASH_ROLES": json.dumps(ROLES),
    }.items():
        monkeypatch.setenv(name, value)
    with anyio.fail_after(30):
        return await anyio.to_thread.run_sync(cli, ["roles", *argv])


async def test_a_confirmation_asked_on_one_replica_is_redeemed_on_the_other_once(
    replicas: Replicas, sandbox_app: Any
) -> None:
    alice = await sign_in_on_a(replicas, "alice")
    async with on(replicas.a, "alice", alice) as on_a:
        pending = await call_ok(on_a, "send_message", TO_TEAM)
    assert pending["status"] == "confirmation_required"
    confirmed = {**TO_TEAM, "confirm_token": pending["confirm_token"]}
    async with on(replicas.b, "alice", alice) as on_b:
        assert (await call_ok(on_b, "send_message", confirmed))["status"] == "ok"
    async with on(replicas.a, "alice", alice) as on_a:  # used once, on every replica: a retry replays, sends nothing
        assert (await call_ok(on_a, "send_message", confirmed))["status"] == "replayed"
    assert sent(sandbox_app) == [("POST", "/api/v1/messages/send")]
    # Both replicas name her with the same keyed hash of (issuer, subject).
    assert [(line["outcome"], line["principal"]) for line in audit_lines(replicas.b, "send_message")] == [
        ("ok", principal(replicas, "alice"))]
    assert {line["principal"] for line in audit_lines(replicas.a, "send_message")} == {principal(replicas, "alice")}


async def test_bob_cannot_redeem_alices_confirmation_on_the_other_replica(replicas: Replicas, sandbox_app: Any) -> None:
    alice, bob = await sign_in_on_a(replicas, "alice"), await sign_in_on_a(replicas, "bob")
    async with on(replicas.a, "alice", alice) as on_a:
        pending = await call_ok(on_a, "send_message", TO_TEAM)
    confirmed = {**TO_TEAM, "confirm_token": pending["confirm_token"]}
    async with on(replicas.b, "bob", bob) as bob_on_b:
        refused = await bob_on_b.call_tool("send_message", confirmed)
        assert refused.is_error or (refused.structured_content or {}).get("status") != "ok", refused
    assert sent(sandbox_app) == []
    async with on(replicas.b, "alice", alice) as on_b:  # still hers, and still unused
        assert (await call_ok(on_b, "send_message", confirmed))["status"] == "ok"
    assert sent(sandbox_app) == [("POST", "/api/v1/messages/send")]


async def never(context: Any, params: Any) -> ElicitResult:
    raise AssertionError("the test answers the rounds itself")


@asynccontextmanager
async def asking(stack: Stack, who: str, storage: MemoryStorage) -> AsyncIterator[Client]:
    """A 2026-07-28 client that can be asked (so the guard asks in rounds); the test answers by hand."""
    async with httpx2.AsyncClient(auth=person_auth(stack, who, storage), timeout=20) as http, \
            Client(streamable_http_client(stack.url, http_client=http), mode="2026-07-28",
                   elicitation_callback=never) as client:
        yield client


async def test_bob_cannot_answer_alices_round_on_the_other_replica(replicas: Replicas, sandbox_app: Any) -> None:
    """2026-07-28: the round's state is sealed with the deployment's key, so B opens what A sealed for alice, and
    only for alice."""
    alice, bob = await sign_in_on_a(replicas, "alice"), await sign_in_on_a(replicas, "bob")
    async with asking(replicas.a, "alice", alice) as alice_on_a:
        asked = await alice_on_a.session.call_tool("send_message", TO_TEAM, allow_input_required=True)
    requests = getattr(asked, "input_requests", None)
    assert requests, asked
    answers: InputResponses = {key: ElicitResult(action="accept", content={"confirm": True}) for key in requests}
    state = getattr(asked, "request_state", None)
    async with asking(replicas.b, "bob", bob) as bob_on_b:
        with pytest.raises(MCPError, match="requestState"):
            await bob_on_b.session.call_tool("send_message", TO_TEAM, input_responses=answers, request_state=state,
                                             allow_input_required=True)
        stolen = await bob_on_b.session.call_tool("send_message", TO_TEAM, input_responses=answers,
                                                  allow_input_required=True)
    assert not isinstance(stolen, CallToolResult) and getattr(stolen, "input_requests", None), stolen
    assert sent(sandbox_app) == []
    async with asking(replicas.b, "alice", alice) as alice_on_b:
        done = await alice_on_b.session.call_tool("send_message", TO_TEAM, input_responses=answers,
                                                  request_state=state)
    assert isinstance(done, CallToolResult) and (done.structured_content or {}).get("status") == "ok", done
    assert sent(sandbox_app) == [("POST", "/api/v1/messages/send")]
    assert [line["principal"] for line in audit_lines(replicas.b, "send_message")] == [principal(replicas, "alice")]


async def test_the_workspace_alice_chose_on_one_replica_is_hers_on_the_other(replicas: Replicas) -> None:
    alice, bob = await sign_in_on_a(replicas, "alice"), await sign_in_on_a(replicas, "bob")
    async with on(replicas.a, "alice", alice) as on_a:
        assert (await call_ok(on_a, "list_instances"))["workspace"] == "personal (sandbox)"
        await call_ok(on_a, "switch_workspace", {"workspace": "sandbox-team"})
    async with on(replicas.b, "alice", alice) as on_b:
        assert (await call_ok(on_b, "list_instances"))["workspace"] == "sandbox-team (sandbox)"
        listed = await call_ok(on_b, "list_workspaces")
        assert {row["name"]: row["active"] for row in listed["data"]} == {"personal": False, "sandbox-team": True}
    async with on(replicas.b, "bob", bob) as bob_on_b:  # hers, not everyone's
        assert (await call_ok(bob_on_b, "list_instances"))["workspace"] == "personal (sandbox)"


async def test_a_role_revoked_with_the_cli_is_refused_on_both_replicas_at_their_next_call(
    replicas: Replicas, sandbox_app: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = await sign_in_on_a(replicas, "alice")
    async with on(replicas.a, "alice", alice) as on_a:
        pending = await call_ok(on_a, "send_message", TO_TEAM)
        confirmed = {**TO_TEAM, "confirm_token": pending["confirm_token"]}

        assert await run_cli(replicas, monkeypatch, "revoke", "sandbox-team", "sub:alice") == 0
        async with on(replicas.b, "alice", alice) as on_b:
            text = await call_error(on_b, "send_message", confirmed)  # the confirmation minted under the old role
            assert "send_message needs the sender role in workspace sandbox-team; you have no role there" in text
            assert "you have no role there" in await call_error(on_b, "list_instances", {"workspace": "sandbox-team"})
            listed = await call_ok(on_b, "list_workspaces")
            assert [(row["name"], row["role"]) for row in listed["data"]] == [("personal", "admin")]
        assert "you have no role there" in await call_error(on_a, "send_message", confirmed)  # the same on A

        # A grant back, narrower: she reads there again, on both, and still cannot send.
        assert await run_cli(replicas, monkeypatch, "grant", "sandbox-team", "sub:alice", "viewer") == 0
        async with on(replicas.b, "alice", alice) as on_b:
            assert (await call_ok(on_b, "list_instances", {"workspace": "sandbox-team"}))["data"] is not None
            assert "your role there is viewer" in await call_error(on_b, "send_message", confirmed)
        assert "your role there is viewer" in await call_error(on_a, "send_message", confirmed)
    assert sent(sandbox_app) == []

    capsys.readouterr()
    assert await run_cli(replicas, monkeypatch, "list", "sandbox-team") == 0
    assert capsys.readouterr().out.splitlines() == [
        "sandbox-team\tsub:alice\tviewer\t(runtime, MSGFLASH_ROLES says sender)",
        "sandbox-team\tsub:bob\tsender\t(MSGFLASH_ROLES)",
    ]


async def open_session(stack: Stack, token: str) -> httpx2.Response:
    with anyio.fail_after(20):
        async with httpx2.AsyncClient(timeout=10) as http:
            return await http.post(stack.url, json=INITIALIZE, headers={**HEADERS, "authorization": f"Bearer {token}"})


async def close_session(stack: Stack, token: str, session: str) -> int:
    headers = {"authorization": f"Bearer {token}", "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
    with anyio.fail_after(20):
        async with httpx2.AsyncClient(timeout=10) as http:
            return (await http.delete(stack.url, headers=headers)).status_code


async def test_the_session_cap_counts_a_persons_sessions_on_both_replicas(replicas: Replicas) -> None:
    provider = replicas.provider
    alice = [provider.forge(sub="alice", client_id=f"connection-{n}") for n in range(SESSION_CAP + 1)]
    opened = [await open_session(replicas.a, alice[0]), await open_session(replicas.b, alice[1]),
              await open_session(replicas.a, alice[2])]
    assert [r.status_code for r in opened] == [200] * SESSION_CAP
    for stack in (replicas.b, replicas.a):  # full on both: each counts the other's
        refused = await open_session(stack, alice[SESSION_CAP])
        assert refused.status_code == 429 and "signed-in person" in refused.json()["error"]["message"]
    assert (await open_session(replicas.b, provider.forge(sub="bob"))).status_code == 200  # bob has his own
    # A session closed on A makes room on B.
    assert await close_session(replicas.a, alice[0], opened[0].headers["mcp-session-id"]) == 200
    assert (await open_session(replicas.b, alice[SESSION_CAP])).status_code == 200
    assert (await open_session(replicas.a, alice[SESSION_CAP])).status_code == 429
