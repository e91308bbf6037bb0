"""Shared rate limiting against the standalone sandbox in strict 10 req/s mode (GCRA, burst 1).

Printed side by side in one run (issue #6 targets):
  (a) 50 concurrent tool calls through the MCP client, >= 200 requests, our limiter on:
      429s (target 0) and achieved rate (target >= 9.7 req/s);
  (b) the same with our limiter disabled (the naive baseline): how many 429s;
  (c) two server processes on one key sharing Redis: 429s (target 0), combined rate (target >= 9.5 req/s).
Then, in real time in one process (the tests check the same logic on a virtual clock, tests/retries):
  (d) 50 concurrent calls against the in-process sandbox, strict GCRA and fixed windows: 429s (target 0),
      elapsed (at least 4.9 s: the limit is honoured);
  (e) 10 personal + 10 team calls at once: elapsed (~1 s: independent schedules, not ~2 s);
  (f) a 429 with Retry-After: 2 among 8 calls: the pause every caller saw (target >= 2 s), the smallest
      gap between arrivals (target >= 100 ms).
Rates come from the sandbox's own ledger (arrival times at the API), not from the client.
Every scenario is bounded (BENCH_TIMEOUT seconds, default 120).
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from _standalone import standalone_sandbox
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.faults import parse_rules
from msgflash_mcp.sandbox.keys import PERSONAL_KEY
from msgflash_mcp.server.app import build_server

from tests.conftest import make_settings
from tests.redis_server import start_redis_server

CALLS = int(os.environ.get("BENCH_CALLS", "200"))
CONCURRENCY = 50
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "120"))
CONTROL = {"x-sandbox-control": "1"}  # the sandbox's control surface answers local tools only
RATE = 10.0


def server_params(url: str, *, rate: str, redis_url: str | None = None) -> StdioServerParameters:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MSGFLASH_API_KEY": PERSONAL_KEY,
        "MSGFLASH_BASE_URL": url,
        "MSGFLASH_SANDBOX": "0",
        "MSGFLASH_RATE_LIMIT": rate,
        "MSGFLASH_CALL_DEADLINE": "600",
    }
    if redis_url:
        env["MSGFLASH_REDIS_URL"] = redis_url
    return StdioServerParameters(command=sys.executable, args=["-m", "msgflash_mcp.server"], env=env)


async def drive(clients: list[Client], calls: int) -> int:
    """`calls` list_instances calls, at most CONCURRENCY in flight, spread over the clients. Returns tool errors."""
    errors = 0
    limiter = anyio.Semaphore(CONCURRENCY)

    async def one(index: int) -> None:
        nonlocal errors
        async with limiter:
            result = await clients[index % len(clients)].call_tool("list_instances", {})
            errors += bool(result.is_error)

    async with anyio.create_task_group() as tg:
        for index in range(calls):
            tg.start_soon(one, index)
    return errors


async def ledger_stats(url: str) -> tuple[int, int, float]:
    async with httpx2.AsyncClient(base_url=url, headers=CONTROL) as http:
        entries: list[dict[str, Any]] = (await http.get("/_sandbox/ledger")).json()["data"]
        await http.post("/_sandbox/reset")
    ok = [e for e in entries if e["status"] < 400]
    limited = sum(1 for e in entries if e["status"] == 429)
    span = ok[-1]["time"] - ok[0]["time"] if len(ok) > 1 else 0.0
    rate = (len(ok) - 1) / span if span > 0 else float("nan")
    return len(entries), limited, rate


async def scenario(url: str, params: list[StdioServerParameters], label: str) -> None:
    async with httpx2.AsyncClient(base_url=url, headers=CONTROL) as http:
        await http.post("/_sandbox/reset")
    clients = [Client(p) for p in params]
    for client in clients:
        await client.__aenter__()
    try:
        with anyio.fail_after(TIMEOUT):
            errors = await drive(clients, CALLS)
    finally:
        for client in reversed(clients):
            await client.__aexit__(None, None, None)
    requests, limited, rate = await ledger_stats(url)
    print(f"{label:<44} calls {CALLS}  requests {requests}  429s {limited:>3}  tool errors {errors:>3}  "
          f"achieved {rate:5.2f} req/s")


async def concurrently(client: Client, calls: list[dict[str, Any]]) -> tuple[int, float]:
    """All calls at once; returns (tool errors, elapsed seconds)."""
    errors = 0

    async def one(arguments: dict[str, Any]) -> None:
        nonlocal errors
        errors += bool((await client.call_tool("list_instances", arguments)).is_error)

    started = anyio.current_time()
    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            for arguments in calls:
                tg.start_soon(one, arguments)
    return errors, anyio.current_time() - started


async def in_process() -> None:
    for mode in ("gcra", "fixed"):
        app = create_app(SandboxConfig(rate_limit=RATE, rate_mode=mode, burst=1))  # type: ignore[arg-type]
        async with Client(build_server(make_settings(rate_limit=RATE), sandbox_app=app)) as client:
            errors, elapsed = await concurrently(client, [{}] * 50)
        limited = [e["status"] for e in app.state.sandbox.ledger].count(429)
        print(f"(d) 50 concurrent, in-process, strict {mode:<5}      429s {limited:>3}  tool errors {errors:>3}  "
              f"elapsed {elapsed:5.2f} s (floor {49 / RATE:.1f} s)")
    app = create_app(SandboxConfig(rate_limit=RATE, burst=1))
    async with Client(build_server(make_settings(rate_limit=RATE), sandbox_app=app)) as client:
        errors, elapsed = await concurrently(client, [{}] * 10 + [{"workspace": "sandbox-team"}] * 10)
    limited = [e["status"] for e in app.state.sandbox.ledger].count(429)
    print(f"(e) 10 personal + 10 team at once             429s {limited:>3}  tool errors {errors:>3}  "
          f"elapsed {elapsed:5.2f} s (one shared schedule: ~1.9 s)")
    app = create_app(SandboxConfig(rate_limit=RATE, burst=1))
    app.state.sandbox.faults.add(parse_rules({"method": "GET", "path": "/api/v1/instances", "count": 1, "action": "status",
                                              "status": 429, "code": "API_RATE_LIMIT_EXCEEDED", "retry_after": 2}))
    async with Client(build_server(make_settings(rate_limit=RATE), sandbox_app=app)) as client:
        errors, _ = await concurrently(client, [{}] * 8)
    ledger = list(app.state.sandbox.ledger)
    times = [e["time"] for e in ledger]
    refused = next(i for i, e in enumerate(ledger) if e["status"] == 429)
    pause = times[refused + 1] - times[refused] if refused + 1 < len(times) else float("nan")
    gap = min(b - a for a, b in itertools.pairwise(times))
    print(f"(f) Retry-After 2 among 8 calls               requests {len(ledger)}  tool errors {errors:>3}  "
          f"pause {pause:4.2f} s  smallest gap {gap * 1000:5.1f} ms")


async def main() -> None:
    await in_process()
    with standalone_sandbox("--rate-limit", "10", "--rate-mode", "gcra", "--burst", "1") as url:
        print(f"standalone sandbox {url}: strict GCRA 10 req/s, burst 1; {CALLS} calls, {CONCURRENCY} concurrent")
        await scenario(url, [server_params(url, rate="10")], "(a) one server, shared limiter")
        await scenario(url, [server_params(url, rate="0")], "(b) one server, limiter off (naive)")
        binary = shutil.which("redis-server")
        if binary is None:
            print("(c) skipped: redis-server not installed (tests/prepare.sh installs it)")
            return
        with tempfile.TemporaryDirectory() as tmp:
            proc, port = start_redis_server(binary, Path(tmp))
            try:
                redis_url = f"redis://127.0.0.1:{port}/0"
                params = [server_params(url, rate="10", redis_url=redis_url) for _ in range(2)]
                await scenario(url, params, "(c) two servers, one key, Redis limiter")
            finally:
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    anyio.run(main)
