"""Shared rate limiting against the standalone sandbox in strict 10 req/s mode (GCRA, burst 1).

Printed side by side in one run (issue #6 targets):
  (a) 50 concurrent tool calls through the MCP client, >= 200 requests, our limiter on:
      429s (target 0) and achieved rate (target >= 9.7 req/s);
  (b) the same with our limiter disabled (the naive baseline): how many 429s;
  (c) two server processes on one key sharing Redis: 429s (target 0), combined rate (target >= 9.5 req/s).
Rates come from the sandbox's own ledger (arrival times at the API), not from the client.
"""

from __future__ import annotations

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
from msgflash_mcp.sandbox.keys import PERSONAL_KEY

from tests.redis_server import start_redis_server

CALLS = int(os.environ.get("BENCH_CALLS", "200"))
CONCURRENCY = 50


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
    async with httpx2.AsyncClient(base_url=url) as http:
        entries: list[dict[str, Any]] = (await http.get("/_sandbox/ledger")).json()["data"]
        await http.post("/_sandbox/reset")
    ok = [e for e in entries if e["status"] < 400]
    limited = sum(1 for e in entries if e["status"] == 429)
    span = ok[-1]["time"] - ok[0]["time"] if len(ok) > 1 else 0.0
    rate = (len(ok) - 1) / span if span > 0 else float("nan")
    return len(entries), limited, rate


async def scenario(url: str, params: list[StdioServerParameters], label: str) -> None:
    async with httpx2.AsyncClient(base_url=url) as http:
        await http.post("/_sandbox/reset")
    clients = [Client(p) for p in params]
    for client in clients:
        await client.__aenter__()
    try:
        errors = await drive(clients, CALLS)
    finally:
        for client in reversed(clients):
            await client.__aexit__(None, None, None)
    requests, limited, rate = await ledger_stats(url)
    print(f"{label:<44} calls {CALLS}  requests {requests}  429s {limited:>3}  tool errors {errors:>3}  "
          f"achieved {rate:5.2f} req/s")


async def main() -> None:
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
