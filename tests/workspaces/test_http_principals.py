"""On HTTP the active workspace belongs to the authenticated principal: two bearer tokens, two
principals, switching concurrently, never bleed into each other (and the key follows each of them)."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.sandbox.keys import TEAM_ID
from msgflash_mcp.server.transport.serve import http_app

from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

ALICE, BOB = "alice-token-0c1d2e", "bob-token-9f8e7d"
BASE = "http://127.0.0.1:8765"


async def test_two_principals_keep_their_own_active_workspace(monkeypatch: pytest.MonkeyPatch, sandbox_app: Any) -> None:
    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", f"{ALICE},{BOB}")
    app = http_app(make_settings(), sandbox_app=sandbox_app)
    seen: dict[str, list[str]] = {"alice": [], "bob": []}

    async def session(who: str, token: str, workspace: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, headers=headers,
                                      timeout=20) as http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
            switched = await client.call_tool("switch_workspace", {"workspace": workspace})
            assert not switched.is_error
            for _ in range(5):
                result = await client.call_tool("list_instances", {})
                assert result.structured_content is not None
                seen[who].append(result.structured_content["workspace"])
                await anyio.lowlevel.checkpoint()

    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), anyio.create_task_group() as tg:
            tg.start_soon(session, "alice", ALICE, "sandbox-team")
            tg.start_soon(session, "bob", BOB, "personal")
    assert seen["alice"] == ["sandbox-team (sandbox)"] * 5
    assert seen["bob"] == ["personal (sandbox)"] * 5
    instances = [e for e in sandbox_app.state.sandbox.ledger if e["path"] == "/api/v1/instances"]
    assert sorted((e["key_kind"], e["team_id"]) for e in instances) == [("personal", None)] * 5 + [("team", TEAM_ID)] * 5


# ---------------------------------------------------------------- identities (server/call/principal.py)

from collections.abc import AsyncIterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402

from msgflash_mcp.server.call.principal import ANONYMOUS, token_principal  # noqa: E402
from msgflash_mcp.server.transport.serve import StaticTokenVerifier  # noqa: E402

from tests.conftest import call_ok, mutations  # noqa: E402
from tests.guard.conftest import personal_contacts  # noqa: E402
from tests.redis_server import redis_url  # noqa: E402, F401
from tests.trust.requirements import requirement  # noqa: E402


@asynccontextmanager
async def http_client(app: Any, token: str | None, mode: str = "legacy") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, headers=headers,
                                  timeout=20) as http, \
            Client(streamable_http_client(f"{BASE}/mcp", http_client=http), mode=mode) as client:
        yield client


async def test_a_principal_is_its_token_hash_not_its_position() -> None:
    key = b"install-key"
    forward, backward = StaticTokenVerifier(f"{ALICE},{BOB}", key), StaticTokenVerifier(f"{BOB}, {ALICE}", key)
    a1, a2 = await forward.verify_token(ALICE), await backward.verify_token(ALICE)
    b1 = await forward.verify_token(BOB)
    assert a1 is not None and a2 is not None and b1 is not None
    assert a1.subject == a2.subject == token_principal(ALICE, key) != b1.subject
    assert ALICE not in str(a1.subject) and "client-" not in str(a1.subject)
    keyed = await StaticTokenVerifier(ALICE, b"deployment-key").verify_token(ALICE)
    assert keyed is not None and keyed.subject != a1.subject  # MSGFLASH_PRINCIPAL_KEY separates deployments
    assert await forward.verify_token("alice-token-0c1d2") is None


@requirement("principal.token-hash")
@pytest.mark.redis
async def test_reordering_the_token_list_keeps_identities(
    monkeypatch: pytest.MonkeyPatch, sandbox_app: Any, redis_url: str  # noqa: F811
) -> None:
    """Restart (or another replica) with the tokens reordered: Alice keeps her active workspace and her
    pending confirmation; Bob, now at her old position, gets neither."""
    import redis.asyncio as aioredis

    opened: list[Any] = []
    real_from_url = aioredis.from_url

    def recording_from_url(*a: Any, **kw: Any) -> Any:  # the real client; kept to close it at the end
        opened.append(real_from_url(*a, **kw))
        return opened[-1]

    monkeypatch.setattr(aioredis, "from_url", recording_from_url)
    try:
        await _reorder_tokens(monkeypatch, sandbox_app, redis_url)
    finally:
        for client in opened:
            await client.aclose()


async def _reorder_tokens(monkeypatch: pytest.MonkeyPatch, sandbox_app: Any, redis_url: str) -> None:  # noqa: F811
    contact = personal_contacts()[2]
    args = {"contact_id": contact["id"], "workspace": "personal"}
    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", f"{ALICE},{BOB}")
    before = http_app(make_settings(redis_url=redis_url), sandbox_app=sandbox_app)
    with anyio.fail_after(60):
        async with before.router.lifespan_context(before), http_client(before, ALICE) as alice:
            await call_ok(alice, "switch_workspace", {"workspace": "sandbox-team"})
            pending = await call_ok(alice, "delete_contact", args)
            assert pending["status"] == "confirmation_required"
    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", f"{BOB},{ALICE}")
    after = http_app(make_settings(redis_url=redis_url), sandbox_app=sandbox_app)
    with anyio.fail_after(60):
        async with after.router.lifespan_context(after):
            async with http_client(after, BOB) as bob:
                listed = await call_ok(bob, "list_instances")
                assert listed["workspace"] == "personal (sandbox)"  # Bob never switched
                refused = await bob.call_tool("delete_contact", {**args, "confirm_token": pending["confirm_token"]})
                assert refused.is_error
            assert mutations([dict(e) for e in sandbox_app.state.sandbox.ledger]) == []
            async with http_client(after, ALICE) as alice:
                listed = await call_ok(alice, "list_instances")
                assert listed["workspace"] == "sandbox-team (sandbox)"
                done = await call_ok(alice, "delete_contact", {**args, "confirm_token": pending["confirm_token"]})
                assert done["status"] == "ok"
    deleted = [e for e in mutations([dict(e) for e in sandbox_app.state.sandbox.ledger]) if e["method"] == "DELETE"]
    assert [e["path"] for e in deleted] == [f"/api/v1/contacts/{contact['id']}"]


@requirement("principal.tokenless-sessions")
async def test_two_tokenless_sessions_share_neither_workspace_nor_confirmations(sandbox_app: Any) -> None:
    app = http_app(make_settings(), sandbox_app=sandbox_app)
    contact = personal_contacts()[3]
    args = {"contact_id": contact["id"], "workspace": "personal"}
    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), http_client(app, None) as one, http_client(app, None) as two:
            await call_ok(one, "switch_workspace", {"workspace": "sandbox-team"})
            assert (await call_ok(one, "list_instances"))["workspace"] == "sandbox-team (sandbox)"
            assert (await call_ok(two, "list_instances"))["workspace"] == "personal (sandbox)"
            pending = await call_ok(one, "delete_contact", args)
            stolen = await two.call_tool("delete_contact", {**args, "confirm_token": pending["confirm_token"]})
            assert stolen.is_error and "nothing was" in stolen.content[0].text  # type: ignore[union-attr]
            assert mutations([dict(e) for e in sandbox_app.state.sandbox.ledger]) == []
            done = await call_ok(one, "delete_contact", {**args, "confirm_token": pending["confirm_token"]})
            assert done["status"] == "ok"


async def test_sessionless_tokenless_http_cannot_store_a_switch(sandbox_app: Any) -> None:
    """2026-07-28 without a bearer token: nothing tells clients apart, so switch_workspace says it did not
    switch (it would have been every such client's), and later calls stay on the default."""
    app = http_app(make_settings(), sandbox_app=sandbox_app)
    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), http_client(app, None, mode="auto") as modern:
            switched = await call_ok(modern, "switch_workspace", {"workspace": "sandbox-team"})
            assert switched["data"]["stored"] is False and "workspace='sandbox-team'" in switched["summary"]
            assert (await call_ok(modern, "list_instances"))["workspace"] == "personal (sandbox)"
            explicit = await call_ok(modern, "list_instances", {"workspace": "sandbox-team"})
            assert explicit["workspace"] == "sandbox-team (sandbox)"
    assert ANONYMOUS == "http:anonymous"


async def test_a_sessionless_request_cannot_switch_another_clients_session(sandbox_app: Any) -> None:
    """No HTTP token: a 2026-07-28 request is never checked against a session, so a session id header it
    carries (here, a legacy client's, read off the wire) names nobody. Its switch is not stored, and the
    legacy client keeps its workspace."""
    app = http_app(make_settings(), sandbox_app=sandbox_app)
    minted: list[str] = []

    async def remember_session(response: httpx2.Response) -> None:
        if "mcp-session-id" in response.headers:
            minted.append(response.headers["mcp-session-id"])

    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url=BASE, timeout=20,
            event_hooks={"response": [remember_session]},
        ) as victim_http, Client(streamable_http_client(f"{BASE}/mcp", http_client=victim_http), mode="legacy") as victim:
            assert (await call_ok(victim, "list_instances"))["workspace"] == "personal (sandbox)"
            assert minted
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, timeout=20,
                                          headers={"mcp-session-id": minted[0]}) as attacker_http, \
                    Client(streamable_http_client(f"{BASE}/mcp", http_client=attacker_http), mode="auto") as attacker:
                switched = await call_ok(attacker, "switch_workspace", {"workspace": "sandbox-team"})
                assert switched["data"]["stored"] is False
            assert (await call_ok(victim, "list_instances"))["workspace"] == "personal (sandbox)"
