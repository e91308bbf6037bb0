"""One limiter per key, shared by every concurrent tool call, measured by the sandbox's own limiter.

The sandbox runs in-process in strict mode (GCRA, burst 1, and again fixed windows) at 10 req/s and
answers 429 like the real API; the referee is its ledger. These run in real time (~5 s each): the
point is the interplay of two real clocks and schedulers, which a fake clock cannot show.
"""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.server.app import build_server

from tests.conftest import credential_violations, make_settings
from tests.trust.requirements import requirement

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CALLS = 50
RATE = 10.0


async def run_concurrently(client: Client, calls: list[tuple[str, dict[str, Any]]]) -> list[bool]:
    errors: list[bool] = []

    async def one(tool: str, arguments: dict[str, Any]) -> None:
        result = await client.call_tool(tool, arguments)
        errors.append(bool(result.is_error))

    async with anyio.create_task_group() as tg:
        for tool, arguments in calls:
            tg.start_soon(one, tool, arguments)
    return errors


@requirement("rate.concurrent-zero-429")
@pytest.mark.parametrize("mode", ["gcra", "fixed"])
async def test_fifty_concurrent_calls_see_no_429(mode: str) -> None:
    app = create_app(SandboxConfig(rate_limit=RATE, rate_mode=mode, burst=1))
    server = build_server(make_settings(rate_limit=RATE), sandbox_app=app)
    async with Client(server) as client:
        started = anyio.current_time()
        with anyio.fail_after(30):
            errors = await run_concurrently(client, [("list_instances", {})] * CALLS)
        elapsed = anyio.current_time() - started
    ledger = list(app.state.sandbox.ledger)
    assert not any(errors)
    assert [e["status"] for e in ledger].count(429) == 0
    assert len(ledger) == CALLS
    assert elapsed >= (CALLS - 1) / RATE  # the limit was honoured, not dodged
    assert not credential_violations(ledger)


@requirement("rate.per-credential")
async def test_personal_and_team_keys_have_independent_schedules() -> None:
    app = create_app(SandboxConfig(rate_limit=RATE, burst=1))
    server = build_server(make_settings(rate_limit=RATE), sandbox_app=app)
    calls = [("list_instances", {})] * 10 + [("list_instances", {"workspace": "sandbox-team"})] * 10
    async with Client(server) as client:
        started = anyio.current_time()
        with anyio.fail_after(30):
            errors = await run_concurrently(client, calls)
        elapsed = anyio.current_time() - started
    assert not any(errors)
    assert [e["status"] for e in app.state.sandbox.ledger].count(429) == 0
    assert elapsed < 1.9  # two keys in parallel: ~1 s, not the ~2 s one shared schedule would take


@requirement("rate.retries-count", "rate.429-pauses-all")
async def test_retries_take_slots_and_a_429_pauses_every_caller() -> None:
    app = create_app(SandboxConfig(rate_limit=RATE, burst=1))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://sandbox") as http:
        # The third request is refused with Retry-After: 2 (a 429 the sandbox did not itself need).
        await http.post("/_sandbox/faults", json={"method": "GET", "path": "/api/v1/instances", "count": 1,
                                                  "action": "status", "status": 429,
                                                  "code": "API_RATE_LIMIT_EXCEEDED", "retry_after": 2})
    server = build_server(make_settings(rate_limit=RATE), sandbox_app=app,
                          http_transport=sandbox_transport(app))
    async with Client(server) as client:
        with anyio.fail_after(30):
            errors = await run_concurrently(client, [("list_instances", {})] * 8)
    ledger = list(app.state.sandbox.ledger)
    assert not any(errors)
    assert len(ledger) == 9  # 8 calls + 1 retry, each a paced attempt
    times = [e["time"] for e in ledger]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 1 / RATE - 0.002 for gap in gaps), gaps  # the retry took a slot like everyone
    refused = next(i for i, e in enumerate(ledger) if e["status"] == 429)
    # Nobody (the retry included) went before the pause ended.
    assert times[refused + 1] - times[refused] >= 2.0 - 0.01
    assert [e["status"] for e in ledger].count(429) == 1
