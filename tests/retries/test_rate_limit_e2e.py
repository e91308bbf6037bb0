"""One limiter per key, shared by every concurrent caller, refereed by the sandbox's own strict limiter.

Server and sandbox run on ONE virtual clock (tests/fake_time.py): the server's limiter sleeps on it,
the sandbox's limiter and ledger read it. So the assertions are exact and no test waits in real
time or depends on the machine's load. What a virtual clock cannot show (scheduler jitter between
our grant and the arrival upstream, which the limiter's headroom absorbs) is measured in real time
by bench/ratelimit.py, which prints the 429 count and the achieved rate.
"""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.faults import parse_rules
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import PERSONAL_KEY
from msgflash_mcp.server.api import ApiClient
from msgflash_mcp.server.api.ratelimit import ADAPT_STEP, DEFAULT_HEADROOM, MemoryRateLimiter, RateLimitedTransport
from msgflash_mcp.server.api.retry import RetryPolicy
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.credentials import Workspace
from msgflash_mcp.server.registry import GET
from pydantic import SecretStr

from tests.conftest import credential_violations, make_settings
from tests.fake_time import FakeClock
from tests.trust.requirements import requirement

pytestmark = pytest.mark.anyio

CALLS = 50
RATE = 10.0
INTERVAL = 1 / RATE + DEFAULT_HEADROOM  # what the server's limiter spaces grants by
EPS = 1e-6


def strict_sandbox(ft: FakeClock, mode: str = "gcra") -> Any:
    """The simulator enforcing 10 req/s per key with no burst, on the virtual clock."""
    return create_app(SandboxConfig(rate_limit=RATE, rate_mode=mode, burst=1, monotonic=ft.monotonic))  # type: ignore[arg-type]


def paced_server(ft: FakeClock, app: Any) -> Any:
    limiter = MemoryRateLimiter(RATE, clock=ft.monotonic, sleep=ft.sleep, headroom=DEFAULT_HEADROOM)
    return build_server(make_settings(rate_limit=RATE), sandbox_app=app, limiter=limiter)


async def run_concurrently(ft: FakeClock, client: Client, calls: list[tuple[str, dict[str, Any]]]) -> list[bool]:
    """Start every call at once, then drive virtual time until all have answered. Returns is_error per call."""
    errors: list[bool] = []

    async def one(tool: str, arguments: dict[str, Any]) -> None:
        result = await client.call_tool(tool, arguments)
        errors.append(bool(result.is_error))

    with anyio.fail_after(30):  # real seconds: only a hang could reach it
        async with anyio.create_task_group() as tg:
            for tool, arguments in calls:
                tg.start_soon(one, tool, arguments)
            await ft.run()
    assert len(errors) == len(calls)
    return errors


def arrivals(app: Any) -> list[float]:
    return [entry["time"] for entry in app.state.sandbox.ledger]


async def test_the_referee_refuses_a_request_that_comes_early() -> None:
    """Control: at burst 1 the sandbox answers 429 to two requests at the same virtual instant."""
    ft = FakeClock()
    app = strict_sandbox(ft)
    async with httpx2.AsyncClient(transport=sandbox_transport(app), base_url="http://127.0.0.1",
                                  headers={"x-api-key": PERSONAL_KEY}) as http:
        assert (await http.get("/api/v1/instances")).status_code == 200
        assert (await http.get("/api/v1/instances")).status_code == 429
        ft.advance(1 / RATE)
        assert (await http.get("/api/v1/instances")).status_code == 200


@requirement("rate.concurrent-zero-429")
@pytest.mark.parametrize("mode", ["gcra", "fixed"])
async def test_fifty_concurrent_calls_see_no_429(mode: str) -> None:
    ft = FakeClock()
    app = strict_sandbox(ft, mode)
    async with Client(paced_server(ft, app)) as client:
        start = ft.monotonic()
        errors = await run_concurrently(ft, client, [("list_instances", {})] * CALLS)
        elapsed = ft.monotonic() - start
    ledger = list(app.state.sandbox.ledger)
    assert not any(errors)
    assert [e["status"] for e in ledger].count(429) == 0
    assert len(ledger) == CALLS
    gaps = [b - a for a, b in itertools.pairwise(arrivals(app))]
    assert min(gaps) >= INTERVAL - EPS  # every arrival one interval after the previous
    assert elapsed == pytest.approx((CALLS - 1) * INTERVAL)  # the limit was honoured, and not over-honoured
    assert not credential_violations(ledger)


@requirement("rate.per-credential")
async def test_personal_and_team_keys_have_independent_schedules() -> None:
    ft = FakeClock()
    app = strict_sandbox(ft)
    calls = [("list_instances", {})] * 10 + [("list_instances", {"workspace": "sandbox-team"})] * 10
    async with Client(paced_server(ft, app)) as client:
        start = ft.monotonic()
        errors = await run_concurrently(ft, client, calls)
        elapsed = ft.monotonic() - start
    assert not any(errors)
    assert [e["status"] for e in app.state.sandbox.ledger].count(429) == 0
    # Two keys side by side: 9 intervals, not the 19 one shared schedule would take.
    assert elapsed == pytest.approx(9 * INTERVAL)
    for kind in ("personal", "team"):
        times = [e["time"] for e in app.state.sandbox.ledger if e["key_kind"] == kind]
        assert len(times) == 10
        assert all(b - a >= INTERVAL - EPS for a, b in itertools.pairwise(times))


@requirement("rate.retries-count", "rate.429-pauses-all")
async def test_retries_take_slots_and_a_429_pauses_every_caller() -> None:
    """Eight concurrent reads through the API client; the first is refused with Retry-After: 2."""
    ft = FakeClock()
    app = strict_sandbox(ft)
    app.state.sandbox.faults.add(parse_rules({"method": "GET", "path": "/api/v1/instances", "count": 1,
                                              "action": "status", "status": 429, "code": "API_RATE_LIMIT_EXCEEDED",
                                              "retry_after": 2}))
    limiter = MemoryRateLimiter(RATE, clock=ft.monotonic, sleep=ft.sleep, headroom=DEFAULT_HEADROOM)
    transport = RateLimitedTransport(sandbox_transport(app), limiter)
    workspace = Workspace("personal", SecretStr(PERSONAL_KEY), None)
    route = GET("/api/v1/instances")
    results: list[Any] = []
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox.invalid") as http:
        api = ApiClient(http, policy=RetryPolicy(), deadline=60, sleep=ft.sleep)

        async def one() -> None:
            results.append(await api.request(route, workspace))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(one)
                await ft.run()
    ledger = list(app.state.sandbox.ledger)
    assert len(results) == 8 and all(isinstance(r, list) for r in results)
    assert len(ledger) == 9  # 8 calls + 1 retry, each a paced attempt
    statuses = [e["status"] for e in ledger]
    assert statuses.count(429) == 1
    refused = statuses.index(429)
    times = arrivals(app)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= INTERVAL - EPS for gap in gaps), gaps  # the retry took a slot like everyone
    # Nobody (the retry included) went before the pause ended, and the queue resumed right then.
    assert times[refused + 1] - times[refused] == pytest.approx(2.0)
    # ... and kept its pace: one interval apiece, plus the small spacing a 429 teaches the key (ADAPT_STEP).
    assert times[-1] - times[refused] <= 2.0 + (len(ledger) - refused - 2) * (INTERVAL + ADAPT_STEP) + EPS
