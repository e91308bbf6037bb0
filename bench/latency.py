"""Start-up and per-call overhead, measured side by side in one run (shared, noisy machines: ratios).

1. Cold start (spawn -> tools/list answered) of `msgflash-mcp` vs a 2-tool MCPServer baseline, over stdio
   with the SDK client, alternating runs. Target ratio <= 1.15.
2. Per-call overhead of a read tool over stdio (list_instances through our server, against the standalone
   sandbox) vs a direct httpx2 call to the same sandbox endpoint. Target: <= 2 ms p50 added.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

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
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
CALLS = int(os.environ.get("BENCH_CALLS", "300"))


async def cold_start(params: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with Client(params) as client:
        await client.list_tools()
        return time.perf_counter() - started


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        baseline_file = Path(tmp) / "baseline.py"
        baseline_file.write_text(BASELINE)
        ours_env = {"PATH": os.environ.get("PATH", ""), "MSGFLASH_SANDBOX_DB": ":memory:"}
        # The tool schema cache (server/call/tool_cache.py) in a temporary dir: the first (warm-up) start
        # writes it, as a user's first start does. The same server without it shows what it saves.
        ours = StdioServerParameters(command=sys.executable, args=["-m", "msgflash_mcp.server", "--sandbox"],
                                     env=ours_env | {"MSGFLASH_SCHEMA_CACHE": tmp})
        uncached = StdioServerParameters(command=sys.executable, args=["-m", "msgflash_mcp.server", "--sandbox"],
                                         env=ours_env | {"MSGFLASH_SCHEMA_CACHE": "off"})
        base = StdioServerParameters(command=sys.executable, args=[str(baseline_file)], env={"PATH": os.environ.get("PATH", "")})
        await cold_start(ours)  # warm the page cache for all (and write the schema cache)
        await cold_start(uncached)
        await cold_start(base)
        ours_t: list[float] = []
        uncached_t: list[float] = []
        base_t: list[float] = []
        for _ in range(RUNS):
            ours_t.append(await cold_start(ours))
            uncached_t.append(await cold_start(uncached))
            base_t.append(await cold_start(base))
        mo, mu, mb = statistics.median(ours_t), statistics.median(uncached_t), statistics.median(base_t)
        print(f"cold start (spawn -> tools/list), median of {RUNS}: msgflash-mcp {mo * 1000:.0f} ms, "
              f"2-tool baseline {mb * 1000:.0f} ms, ratio {mo / mb:.2f} (target <= 1.15)")
        print(f"  without the tool schema cache (a first start): {mu * 1000:.0f} ms, ratio {mu / mb:.2f}")

    with standalone_sandbox("--rate-limit", "0") as url:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "MSGFLASH_API_KEY": PERSONAL_KEY,
            "MSGFLASH_BASE_URL": url,
            "MSGFLASH_SANDBOX": "0",
            "MSGFLASH_RATE_LIMIT": "0",
        }
        params = StdioServerParameters(command=sys.executable, args=["-m", "msgflash_mcp.server"], env=env)
        via_mcp: list[float] = []
        direct: list[float] = []
        async with Client(params) as client, httpx2.AsyncClient(base_url=url, headers={"x-api-key": PERSONAL_KEY}) as http:
            for _ in range(20):  # warm-up
                await client.call_tool("list_instances", {})
                await http.get("/api/v1/instances")
            for _ in range(CALLS):
                t0 = time.perf_counter()
                result = await client.call_tool("list_instances", {})
                via_mcp.append(time.perf_counter() - t0)
                assert not result.is_error
                t0 = time.perf_counter()
                response = await http.get("/api/v1/instances")
                direct.append(time.perf_counter() - t0)
                assert response.status_code == 200
        p50_mcp, p50_direct = statistics.median(via_mcp) * 1000, statistics.median(direct) * 1000
        print(f"read tool over stdio: p50 {p50_mcp:.2f} ms vs direct httpx2 {p50_direct:.2f} ms -> "
              f"added {p50_mcp - p50_direct:.2f} ms p50 (target <= 2 ms); "
              f"p95 {statistics.quantiles(via_mcp, n=20)[-1] * 1000:.2f} vs {statistics.quantiles(direct, n=20)[-1] * 1000:.2f} ms")


if __name__ == "__main__":
    anyio.run(main)
