"""The session cap counts people, not tokens: a signed-in person who comes back with a new token (a refresh, or a
new client registration, as Claude makes per connection) draws on the same allowance, another person keeps theirs,
and a token the verifier refuses spends nobody's. Tokens are signed with the running provider's key and verified
through its JWKS, by an app with a small cap served in-process at the stack's origin (the audience they carry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from msgflash_mcp.server.transport.serve import http_app
from msgflash_mcp.server.transport.session_cap import OPENING_GRACE, RedisSessions

from tests.conftest import make_settings
from tests.fake_time import FakeClock
from tests.oauth.conftest import Stack
from tests.oauth.test_resource_server import HEADERS, INITIALIZE

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

LIMIT = 2


@asynccontextmanager
async def capped(stack: Stack, sandbox_app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    settings = make_settings(
        oauth_issuer=stack.provider.issuer, public_url=stack.origin, max_sessions_per_client=LIMIT
    )
    port = urlsplit(stack.origin).port
    assert port is not None
    app = http_app(settings, host="127.0.0.1", port=port, sandbox_app=sandbox_app)
    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url=stack.origin, timeout=20
        ) as http:
            yield http


async def open_session(http: httpx2.AsyncClient, token: str) -> httpx2.Response:
    return await http.post("/mcp", json=INITIALIZE, headers={**HEADERS, "authorization": f"Bearer {token}"})


async def test_one_person_with_new_tokens_gets_no_fresh_allowance_and_another_person_still_can(
    stack: Stack, sandbox_app: Any
) -> None:
    provider = stack.provider
    # Three different valid tokens, one person: each from another client, as after re-registrations or refreshes.
    alice = [provider.forge(sub="alice", client_id=f"connection-{n}") for n in range(LIMIT + 1)]
    assert len(set(alice)) == LIMIT + 1
    async with capped(stack, sandbox_app) as http:
        opened = [await open_session(http, token) for token in alice[:LIMIT]]
        assert [r.status_code for r in opened] == [200] * LIMIT
        assert all("mcp-session-id" in r.headers for r in opened)

        refused = await open_session(http, alice[LIMIT])
        assert refused.status_code == 429 and "mcp-session-id" not in refused.headers
        message = refused.json()["error"]["message"]
        assert "signed-in person" in message and "MSGFLASH_MAX_SESSIONS_PER_CLIENT" in message
        assert f"({LIMIT}," in message and "DELETE" in message
        assert all(token not in message for token in alice) and "alice" not in message

        # Another person, and a client-credentials bot (a real token from the provider), still open theirs.
        assert (await open_session(http, provider.forge(sub="bob", client_id="connection-0"))).status_code == 200
        assert (await open_session(http, await provider.client_credentials())).status_code == 200

        # A token the verifier refuses is answered 401, not 429, and takes no one's place.
        forged = provider.forge(sub="alice", iss="http://127.0.0.1:9")
        assert (await open_session(http, forged)).status_code == 401

        # Closing one of alice's sessions, with the token that opened it, makes room for her newest token.
        session = opened[0].headers["mcp-session-id"]
        closing = {"authorization": f"Bearer {alice[0]}", "mcp-session-id": session,
                   "mcp-protocol-version": "2025-11-25"}
        assert (await http.delete("/mcp", headers=closing)).status_code == 200
        assert (await open_session(http, alice[LIMIT])).status_code == 200
        assert (await open_session(http, alice[1])).status_code == 429


# ---------------------------------------------------------------- replicas: the count shared through Redis


async def test_a_crashed_replicas_sessions_stop_counting_when_they_would_have_been_reaped(oauth_redis: Any) -> None:
    """Replica A opens two sessions and dies (nobody closes them): B counts them until the idle timeout has passed
    since their last request, then they no longer count. Time is the shared wall clock, injected."""
    clock = FakeClock()
    idle = 600.0
    a, b = (RedisSessions(oauth_redis, clock=clock.timestamp, idle_timeout=idle) for _ in range(2))
    for session in ("s-1", "s-2"):
        ticket = await a.take("http:alice", LIMIT)
        assert ticket is not None
        await a.opened("http:alice", ticket, session)
    assert await b.take("http:alice", LIMIT) is None
    assert await b.open_sessions("http:alice") == LIMIT
    clock.advance(idle - 1)
    await b.seen("http:alice", "s-2")  # a request reached s-2 on a replica still alive: it keeps counting
    clock.advance(2)  # s-1 idle for longer than the timeout
    ticket = await b.take("http:alice", LIMIT)
    assert ticket is not None and await b.open_sessions("http:alice") == LIMIT  # s-2 and the new opening
    # The opening dies with its replica before answering: its ticket holds the slot OPENING_GRACE at most.
    assert await b.take("http:alice", LIMIT) is None
    clock.advance(OPENING_GRACE + 1)
    assert await b.take("http:alice", LIMIT) is not None
    # Another caller's allowance was never touched, and a session another caller names is not alice's to refresh.
    await b.seen("http:bob", "s-2")
    assert await b.open_sessions("http:bob") == 0


async def test_two_replicas_never_both_take_the_last_slot(oauth_redis: Any) -> None:
    clock = FakeClock()
    replicas = [RedisSessions(oauth_redis, clock=clock.timestamp, idle_timeout=600) for _ in range(8)]
    taken: list[str | None] = []

    async def opening(sessions: RedisSessions) -> None:
        taken.append(await sessions.take("http:alice", LIMIT))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for sessions in replicas:
                tg.start_soon(opening, sessions)
    assert len([t for t in taken if t is not None]) == LIMIT
