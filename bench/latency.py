"""Start-up and per-call overhead, measured side by side in one run (shared, noisy machines: ratios).

1. Cold start (spawn -> tools/list answered) of `msgflash-mcp --sandbox` (and with an API key, no sandbox)
   vs a 2-tool MCPServer baseline, over stdio with the SDK client, alternating runs. Target ratio <= 1.10.
2. Per call, a read tool over stdio (list_instances through our server, against the standalone sandbox) vs
   the floor: a one-tool MCPServer making the same HTTP call with httpx2. Target ratio <= 1.15. A direct
   httpx2 call to the same endpoint shows what the wire itself costs.

`BENCH_BEFORE=<dir>` adds another copy of the server, run from `<dir>/msgflash_mcp/{server,tools,sandbox}`
(e.g. `git archive <commit> server tools sandbox | tar -x -C <dir>/msgflash_mcp` plus an empty
`__init__.py`), to every alternation: before and after in one interleaved run.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).parent))
from _standalone import standalone_sandbox
from msgflash_mcp.sandbox.keys import PERSONAL_KEY

BASELINE = '''
from mcp.server import MCPServer
mcp = MCPServer("baseline", log_level="WARNING")

@mcp.tool()
async def ping() -> str:
    """Ping."""
    return "pong"

@mcp.tool()
async def echo(text: str) -> str:
    """Echo."""
    return text

mcp.run("stdio")
'''
# The per-call floor: the same request through the same SDK and HTTP client, with nothing of ours in between.
FLOOR = '''
import os
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context


@asynccontextmanager
async def lifespan(server):
    headers = {"x-api-key": os.environ["FLOOR_KEY"], "accept": "application/json"}
    async with httpx2.AsyncClient(base_url=os.environ["FLOOR_URL"], headers=headers) as http:
        yield http


mcp = MCPServer("floor", log_level="WARNING", lifespan=lifespan)


@mcp.tool()
async def list_instances(ctx: Context) -> dict[str, Any]:
    """List instances."""
    response = await ctx.request_context.lifespan_context.get("/api/v1/instances")
    response.raise_for_status()
    return {"data": response.json()["data"]}


mcp.run("stdio")
'''
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
CALLS = int(os.environ.get("BENCH_CALLS", "300"))
BEFORE = os.environ.get("BENCH_BEFORE")


def env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), **extra}


def ours(environment: dict[str, str], *args: str, before: bool = False) -> StdioServerParameters:
    if before:
        assert BEFORE is not None
        environment = environment | {"PYTHONPATH": BEFORE}
    return StdioServerParameters(command=sys.executable, args=["-m", "msgflash_mcp.server", *args], env=environment)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def cold_start(params: StdioServerParameters) -> tuple[float, float]:
    """Wall time from spawn to tools/list answered, and the server process's CPU time (spawn to exit): on a
    shared machine the wall time is mostly waiting for a core, the CPU time is what start-up costs."""
    cpu = children_cpu()
    started = time.perf_counter()
    async with Client(params) as client:
        await client.list_tools()
        wall = time.perf_counter() - started
    return wall, children_cpu() - cpu  # counted once the client has waited for the process


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


async def cold_starts() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        baseline_file = Path(tmp) / "baseline.py"
        baseline_file.write_text(BASELINE)
        servers = {"msgflash-mcp": ours(env(MSGFLASH_SANDBOX_DB=":memory:"), "--sandbox")}
        # With an API key there is no sandbox to make; the API is not reached before a call.
        servers["msgflash-mcp, API key"] = ours(
            env(MSGFLASH_API_KEY=PERSONAL_KEY, MSGFLASH_SANDBOX="0", MSGFLASH_BASE_URL="http://127.0.0.1:9")
        )
        if BEFORE:
            servers["before"] = ours(env(MSGFLASH_SANDBOX_DB=":memory:"), "--sandbox", before=True)
        servers["2-tool baseline"] = StdioServerParameters(command=sys.executable, args=[str(baseline_file)], env=env())
        for params in servers.values():  # warm the page cache and write every copy's bytecode
            await cold_start(params)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
        for _ in range(RUNS):
            for name, params in servers.items():
                times[name].append(await cold_start(params))
        base = [statistics.median(run[i] for run in times["2-tool baseline"]) for i in (0, 1)]
        print(f"cold start (spawn -> tools/list), median of {RUNS}, interleaved: wall time, and the process's CPU time")
        for name, runs in times.items():
            wall, cpu = (statistics.median(run[i] for run in runs) for i in (0, 1))
            target = "  (target <= 1.10)" if name == "msgflash-mcp" else ""
            print(f"  {name:<26} {ms(wall):>7}  ratio {wall / base[0]:.2f}   CPU {ms(cpu):>7}  ratio {cpu / base[1]:.2f}{target}")


async def per_call() -> None:
    with standalone_sandbox("--rate-limit", "0") as url:
        environment = env(MSGFLASH_API_KEY=PERSONAL_KEY, MSGFLASH_BASE_URL=url, MSGFLASH_SANDBOX="0",
                          MSGFLASH_RATE_LIMIT="0")
        with tempfile.TemporaryDirectory() as tmp:
            floor_file = Path(tmp) / "floor.py"
            floor_file.write_text(FLOOR)
            servers = {"msgflash-mcp": ours(environment)}
            if BEFORE:
                servers["before"] = ours(environment, before=True)
            servers["floor (one-tool MCPServer)"] = StdioServerParameters(
                command=sys.executable, args=[str(floor_file)], env=env(FLOOR_URL=url, FLOOR_KEY=PERSONAL_KEY)
            )
            async with AsyncExitStack() as stack:
                http = await stack.enter_async_context(
                    httpx2.AsyncClient(base_url=url, headers={"x-api-key": PERSONAL_KEY})
                )

                async def direct() -> Any:
                    response = await http.get("/api/v1/instances")
                    assert response.status_code == 200

                calls: dict[str, Callable[[], Awaitable[Any]]] = {}
                for name, params in servers.items():
                    client = await stack.enter_async_context(Client(params))

                    async def call(client: Client = client) -> None:
                        result = await client.call_tool("list_instances", {})
                        assert not result.is_error

                    calls[name] = call
                calls["direct httpx2"] = direct
                times: dict[str, list[float]] = {name: [] for name in calls}
                for _ in range(20):  # warm-up
                    for call in calls.values():
                        await call()
                for _ in range(CALLS):
                    for name, call in calls.items():
                        started = time.perf_counter()
                        await call()
                        times[name].append(time.perf_counter() - started)
        floor = statistics.median(times["floor (one-tool MCPServer)"])
        print(f"read tool list_instances over stdio, {CALLS} calls interleaved: p50 / p95, ratio of p50 to the floor")
        for name, runs in times.items():
            p50, p95 = statistics.median(runs), statistics.quantiles(runs, n=20)[-1]
            target = "  (target <= 1.15)" if name == "msgflash-mcp" else ""
            print(f"  {name:<26} {p50 * 1000:6.2f} / {p95 * 1000:6.2f} ms  ratio {p50 / floor:.2f}{target}")


async def main() -> None:
    await cold_starts()
    await per_call()


if __name__ == "__main__":
    anyio.run(main)
