"""Load: N concurrent MCP clients over Streamable HTTP against `msgflash-mcp --sandbox --transport http`.

The server runs as a subprocess on a free 127.0.0.1 port with both rate limits off
(MSGFLASH_RATE_LIMIT=0 for our limiter, MSGFLASH_SANDBOX_RATE_LIMIT=0 for the embedded simulator's
10 req/s), so the figures are the server's own. Every client makes CALLS calls of read tools, round
robin. Prints throughput, p50/p99 latency, the error count (target 0) and the server's RSS before and
after. Loopback only; bounded by BUDGET seconds; stops its server whatever happens.

    python bench/load.py [clients] [calls]          # default 20 x 100
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

BIN = Path(sys.executable).parent
BUDGET = 240.0  # seconds for the whole run, start-up included
READS: list[tuple[str, dict[str, object]]] = [
    ("list_instances", {}),
    ("list_contacts", {"limit": 20}),
    ("get_usage", {}),
    ("list_templates", {}),
    ("list_groups", {}),
    ("list_webhooks", {}),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MSGFLASH_SANDBOX": "1",
        "MSGFLASH_SANDBOX_DB": ":memory:",
        "MSGFLASH_RATE_LIMIT": "0",
        "MSGFLASH_SANDBOX_RATE_LIMIT": "0",
        "MSGFLASH_LOG_LEVEL": "WARNING",
    }
    env.pop("MSGFLASH_HTTP_TOKEN", None)
    command = [str(BIN / "msgflash-mcp"), "--sandbox", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    with anyio.fail_after(30):
        async with httpx2.AsyncClient(timeout=2) as http:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"server exited early with {proc.returncode}")
                try:
                    await http.get(url)
                    return
                except httpx2.TransportError:
                    await anyio.sleep(0.1)


async def one_client(url: str, index: int, calls: int, latencies: list[float], errors: list[str]) -> None:
    async with httpx2.AsyncClient(timeout=30) as http, Client(streamable_http_client(url, http_client=http)) as client:
        for n in range(calls):
            name, args = READS[(index + n) % len(READS)]
            started = time.perf_counter()
            try:
                result = await client.call_tool(name, args)
            except Exception as exc:  # counted, reported, never hides the rest of the run
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - started)
            if result.is_error:
                errors.append(f"{name}: {getattr(result.content[0], 'text', '')[:200]}")


async def run(clients: int, calls: int) -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    proc = start_server(port)
    try:
        await wait_ready(url, proc)
        # One warm-up call so the "before" RSS includes a connected, imported server.
        warm_errors: list[str] = []
        await one_client(url, 0, 1, [], warm_errors)
        before = rss_kib(proc.pid)
        latencies: list[float] = []
        errors: list[str] = [*warm_errors]
        started = time.perf_counter()
        with anyio.fail_after(BUDGET):
            async with anyio.create_task_group() as tg:
                for index in range(clients):
                    tg.start_soon(one_client, url, index, calls, latencies, errors)
        elapsed = time.perf_counter() - started
        after = rss_kib(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    done = len(latencies)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")
    print(f"load: {clients} clients x {calls} calls over Streamable HTTP (loopback, rate limits off)")
    print(f"  completed      {done} calls in {elapsed:.2f} s  ->  {done / elapsed:.0f} calls/s")
    if ordered:
        print(f"  latency        p50 {statistics.median(ordered) * 1000:.1f} ms   p99 {p99 * 1000:.1f} ms   "
              f"max {ordered[-1] * 1000:.1f} ms")
    print(f"  errors         {len(errors)} (target 0)")
    for line in errors[:5]:
        print(f"    {line}")
    if before and after:
        print(f"  server RSS     {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after "
              f"({(after - before) / 1024:+.1f} MiB)")
    return 1 if errors else 0


def main() -> int:
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    if not (1 <= clients <= 200 and 1 <= calls <= 10_000):
        raise SystemExit("clients must be 1-200 and calls 1-10000")
    return anyio.run(run, clients, calls)


if __name__ == "__main__":
    raise SystemExit(main())
