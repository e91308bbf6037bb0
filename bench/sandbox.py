"""Sandbox throughput in-process (httpx2 over the ASGI transport), mixed read/write, rate limit off.

Prints requests/second; no assertions (benchmarks never gate tests)."""

from __future__ import annotations

import time

import anyio
import httpx2
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import PERSONAL_KEY

N = 3000
PC = S.PERSONAL_CONNECTED_INSTANCE_ID


async def main() -> None:
    app = create_app(SandboxConfig(rate_limit=0))
    async with httpx2.AsyncClient(transport=sandbox_transport(app), base_url="http://sandbox",
                                  headers={"x-api-key": PERSONAL_KEY}) as c:
        send = {"instanceId": PC, "to": "+33612345678", "type": "text", "text": "bench"}
        ops = [
            lambda i: c.get("/api/v1/contacts?limit=20"),
            lambda i: c.get(f"/api/v1/instances/{PC}"),
            lambda i: c.post("/api/v1/messages/send", json=send),
            lambda i: c.get("/api/v1/messages?limit=20"),
            lambda i: c.post("/api/v1/contacts", json={"name": f"Bench {i}", "phone": f"+336{20000000 + i:08d}"}),
            lambda i: c.get(f"/api/v1/templates/{S.PROMO_TEMPLATE_ID}"),
            lambda i: c.put(f"/api/v1/contacts/{S.AWA_CONTACT_ID}", json={"tags": ["vip", f"t{i % 7}"]}),
            lambda i: c.get("/api/v1/contacts/groups"),
        ]
        for i in range(100):  # warm-up
            await ops[i % len(ops)](i)
        errors = 0
        start = time.perf_counter()
        for i in range(N):
            r = await ops[i % len(ops)](i + 1000)
            errors += r.status_code >= 400
        elapsed = time.perf_counter() - start
    print(f"sandbox in-process mixed workload: {N / elapsed:,.0f} requests/second "
          f"({N} requests, {len(ops)} operations, {errors} errors, {elapsed:.2f}s)")


if __name__ == "__main__":
    anyio.run(main)
