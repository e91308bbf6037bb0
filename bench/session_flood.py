"""One token holder floods the Streamable HTTP transport with opening requests (issue 19: 9,493 sessions
in 42 s, RSS 78 -> 464 MB, then 503 for every client for 30 minutes).

Prints how many sessions the flooding client got, how the rest were answered, the time it took, the
process's peak RSS before and after, and whether a second client can still open a session.
In-process (ASGI), sandbox behind it; MSGFLASH_MAX_SESSIONS_PER_CLIENT at its default.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections import Counter

import anyio
import httpx2
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.server.core.settings import Settings
from msgflash_mcp.server.transport.serve import http_app

ATTEMPTS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
FLOODER, OTHER = "bench-flood-token-" + "1" * 16, "bench-other-token-" + "2" * 16
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "b", "version": "1"}}}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    os.environ["MSGFLASH_HTTP_TOKEN"] = f"{FLOODER},{OTHER}"
    # A key of its own: the bench leaves no install key in the user data dir.
    settings = Settings(sandbox=True, sandbox_db=":memory:", rate_limit=0, principal_key="bench-principal-key")
    app = http_app(settings, sandbox_app=create_app(SandboxConfig(db_path=":memory:", rate_limit=0)))
    statuses: Counter[int] = Counter()
    before = peak_rss_mb()
    async with app.router.lifespan_context(app), httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8765", timeout=30
    ) as http:
        started = time.perf_counter()
        for _ in range(ATTEMPTS):
            response = await http.post("/mcp", json=INIT, headers={**HEADERS, "authorization": f"Bearer {FLOODER}"})
            statuses[response.status_code] += 1
        elapsed = time.perf_counter() - started
        other = await http.post("/mcp", json=INIT, headers={**HEADERS, "authorization": f"Bearer {OTHER}"})
    print(f"{ATTEMPTS} opening requests from one token in {elapsed:.1f} s: "
          + ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items())))
    print(f"sessions the flooding client holds: {statuses[200]} (cap {settings.max_sessions_per_client})")
    print(f"another token then opens a session: HTTP {other.status_code}")
    print(f"peak RSS: {before:.0f} MB before, {peak_rss_mb():.0f} MB after")


if __name__ == "__main__":
    anyio.run(main)
