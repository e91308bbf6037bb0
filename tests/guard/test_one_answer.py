"""One accepted 2026-07-28 answer acts at most once (issue 19, item 6), whatever the interleaving of fresh asks
and re-sent rounds, on one process and on two replicas sharing Redis.

The attack: answer one question (one campaign), then three times ask the same question afresh without
answering it and re-send the old, answered final round. Each fresh ask used to release the earlier round's
claim, so each re-send created another campaign (4 from one answer). The sandbox ledger is the referee.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.types import CallToolResult, ElicitResult, InputResponses
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, PERSONAL_CONTACTS, contact_id
from msgflash_mcp.server.transport.serve import http_app

from tests.conftest import make_settings, mutations
from tests.redis_server import redis_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
CAMPAIGNS = "/api/v1/campaigns"
ALICE = "alice-token-5e6f7a"
BASE = "http://127.0.0.1:8765"
CAMPAIGN = {
    "instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "name": "Rappel", "schedule": "2031-06-01T10:00:00Z",
    "recipients_type": "explicit", "contact_ids": [contact_id(PERSONAL_CONTACTS[0][1])], "type": "text",
    "body": "Rappel",
}


def campaigns(ledger: Ledger) -> list[dict[str, Any]]:
    return [e for e in mutations(ledger()) if e["method"] == "POST" and e["path"] == CAMPAIGNS]


async def never(context: Any, params: Any) -> ElicitResult:
    raise AssertionError("the test answers the rounds itself")


class Rounds:
    """A 2026-07-28 client driving the rounds of `create_campaign` by hand."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def ask(self) -> tuple[InputResponses, str | None]:
        """A fresh call: the server asks; returns the accepting answers and the round's state (unsent)."""
        first = await self.client.session.call_tool("create_campaign", CAMPAIGN, allow_input_required=True)
        requests = getattr(first, "input_requests", None)
        assert requests, first
        answers: InputResponses = {key: ElicitResult(action="accept", content={"confirm": True}) for key in requests}
        return answers, first.request_state  # type: ignore[union-attr]

    async def send(self, answers: InputResponses, state: str | None) -> CallToolResult:
        return await self.client.call_tool("create_campaign", CAMPAIGN, input_responses=answers, request_state=state)


def status(result: CallToolResult) -> str:
    if result.is_error:
        return "error"
    structured = result.structured_content or {}
    return str(structured.get("status", "input_required"))


async def attack(first: Rounds, others: list[Rounds]) -> list[str]:
    """Answer once, then alternate a fresh unanswered ask with a re-send of the answered round, three times
    (the fresh asks and re-sends go to `others` in turn: the same replica or another one)."""
    answers, state = await first.ask()
    outcomes = [status(await first.send(answers, state))]
    for i in range(3):
        rounds = others[i % len(others)]
        await rounds.ask()  # asked afresh, never answered
        outcomes.append(status(await rounds.send(answers, state)))
    return outcomes


async def test_one_answer_acts_once_through_fresh_asks_in_process(server: MCPServer[Any], ledger: Ledger) -> None:
    with anyio.fail_after(60):
        async with Client(server, mode="auto", elicitation_callback=never) as client:
            rounds = Rounds(client)
            outcomes = await attack(rounds, [rounds])
    assert outcomes[0] == "ok"
    assert all(outcome == "replayed" for outcome in outcomes[1:]), outcomes
    assert len(campaigns(ledger)) == 1


async def test_a_fresh_ask_answered_still_acts_once_more(server: MCPServer[Any], ledger: Ledger) -> None:
    """The guard against re-sends does not swallow a real second call: its own answer acts, once."""
    with anyio.fail_after(60):
        async with Client(server, mode="auto", elicitation_callback=never) as client:
            rounds = Rounds(client)
            outcomes = await attack(rounds, [rounds])
            answers, state = await rounds.ask()
            outcomes += [status(await rounds.send(answers, state)), status(await rounds.send(answers, state))]
    assert outcomes[-2:] == ["ok", "replayed"]
    assert len(campaigns(ledger)) == 2


async def test_concurrent_resends_of_one_answer_act_once(server: MCPServer[Any], ledger: Ledger) -> None:
    with anyio.fail_after(60):
        async with Client(server, mode="auto", elicitation_callback=never) as client:
            rounds = Rounds(client)
            answers, state = await rounds.ask()
            outcomes: list[str] = []

            async def resend() -> None:
                outcomes.append(status(await rounds.send(answers, state)))

            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(rounds.ask)
                    tg.start_soon(resend)
    assert outcomes.count("ok") == 1, outcomes
    assert len(campaigns(ledger)) == 1


@asynccontextmanager
async def replica(app: Any) -> AsyncIterator[Rounds]:
    """One replica's HTTP app, with Alice's bearer token, speaking 2026-07-28."""
    async with app.router.lifespan_context(app), httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=BASE, headers={"Authorization": f"Bearer {ALICE}"},
        timeout=20,
    ) as http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http), mode="auto",
                      elicitation_callback=never) as client:
        yield Rounds(client)


@pytest.mark.redis
async def test_one_answer_acts_once_across_replicas_sharing_redis(
    monkeypatch: pytest.MonkeyPatch, sandbox_app: Any, ledger: Ledger, redis_url: str  # noqa: F811
) -> None:
    """Two runtimes (replicas) share the Redis test server; the fresh asks and re-sends alternate between them."""
    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", ALICE)
    a = http_app(make_settings(redis_url=redis_url), sandbox_app=sandbox_app)
    b = http_app(make_settings(redis_url=redis_url), sandbox_app=sandbox_app)
    with anyio.fail_after(90):
        async with replica(a) as on_a, replica(b) as on_b:
            outcomes = await attack(on_a, [on_b, on_a])
    assert outcomes[0] == "ok"
    assert all(outcome == "replayed" for outcome in outcomes[1:]), outcomes
    assert len(campaigns(ledger)) == 1
