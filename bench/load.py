"""Load: N concurrent MCP clients over Streamable HTTP against `msgflash-mcp --sandbox --transport http`.

The server runs as a subprocess on a free 127.0.0.1 port with both rate limits off
(MSGFLASH_RATE_LIMIT=0 for our limiter, MSGFLASH_SANDBOX_RATE_LIMIT=0 for the embedded simulator's
10 req/s), so the figures are the server's own. Every client makes CALLS calls of read tools, round
robin. Prints throughput, p50/p99 latency, the error count (target 0) and the server's RSS before and
after. Loopback only; bounded by BUDGET seconds; stops its server whatever happens.

    python bench/load.py [clients] [calls]          # default 20 x 100
    python bench/load.py --auth [clients] [calls]   # static tokens vs OAuth, side by side

`--auth` runs two servers at once, one with static bearer tokens (MSGFLASH_HTTP_TOKEN, one per client) and one in
resource-server mode (MSGFLASH_OAUTH_ISSUER, one signed-in person per client, RS256 JWTs from a local issuer:
bench/_issuer.py), and alternates rounds between them so machine load drifts onto both alike. It prints each
mode's figures side by side, the end-to-end difference per call, and the two verifiers' own cost per call,
measured in-process, interleaved.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).parent))
from _issuer import LocalIssuer, local_issuer

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


def start_server(port: int, auth: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`auth`: the MSGFLASH_HTTP_TOKEN or MSGFLASH_OAUTH_ISSUER settings of the mode to run; none by default."""
    env = {
        **os.environ,
        "MSGFLASH_SANDBOX": "1",
        "MSGFLASH_SANDBOX_DB": ":memory:",
        "MSGFLASH_RATE_LIMIT": "0",
        "MSGFLASH_SANDBOX_RATE_LIMIT": "0",
        "MSGFLASH_LOG_LEVEL": "WARNING",
    }
    for name in ("MSGFLASH_HTTP_TOKEN", "MSGFLASH_OAUTH_ISSUER", "MSGFLASH_PUBLIC_URL"):
        env.pop(name, None)
    env.update(auth or {})
    command = [str(BIN / "msgflash-mcp"), "--sandbox", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


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


async def one_client(
    url: str, index: int, calls: int, latencies: list[float], errors: list[str], token: str | None = None
) -> None:
    headers = {"authorization": f"Bearer {token}"} if token else None
    async with httpx2.AsyncClient(timeout=30, headers=headers) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
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
        stop_server(proc)

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


ROUNDS = 4  # --auth: rounds per mode, alternating which mode goes first
VERIFY_BLOCKS, VERIFY_BLOCK = 20, 250  # --auth: in-process verifications, interleaved blocks of this many


@dataclass
class Mode:
    name: str
    url: str
    tokens: list[str]
    proc: subprocess.Popen[bytes]
    latencies: list[float] = field(default_factory=list[float])
    errors: list[str] = field(default_factory=list[str])
    elapsed: float = 0.0


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


async def round_of(mode: Mode, calls: int) -> None:
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for index, token in enumerate(mode.tokens):
            tg.start_soon(one_client, mode.url, index, calls, mode.latencies, mode.errors, token)
    mode.elapsed += time.perf_counter() - started


async def verifier_costs(issuer: LocalIssuer, static_tokens: list[str], oauth_tokens: list[str],
                         resource: str) -> tuple[float, float]:
    """Microseconds per `verify_token` call, static vs JWT, over the same tokens the servers saw, interleaved."""
    from msgflash_mcp.server.auth.jwks import KeySet
    from msgflash_mcp.server.auth.verifier import JwtVerifier
    from msgflash_mcp.server.clock import Clock
    from msgflash_mcp.server.transport.serve import StaticTokenVerifier

    clock = Clock()
    static = StaticTokenVerifier(",".join(static_tokens), b"bench-principal-key")
    oauth = JwtVerifier(issuer.issuer, resource, KeySet(issuer.issuer, clock=lambda: clock), clock=lambda: clock)
    assert await oauth.verify_token(oauth_tokens[0]) is not None  # fetches the metadata and JWKS once, untimed
    assert await static.verify_token(static_tokens[0]) is not None
    samples: dict[str, list[float]] = {"static": [], "oauth": []}
    for block in range(VERIFY_BLOCKS):
        pairs = [("static", static, static_tokens), ("oauth", oauth, oauth_tokens)]
        for name, verifier, tokens in pairs if block % 2 == 0 else pairs[::-1]:
            started = time.perf_counter()
            for n in range(VERIFY_BLOCK):
                await verifier.verify_token(tokens[n % len(tokens)])
            samples[name].append((time.perf_counter() - started) / VERIFY_BLOCK * 1e6)
    return statistics.median(samples["static"]), statistics.median(samples["oauth"])


async def run_auth(clients: int, calls: int) -> int:
    from msgflash_mcp.server.auth.scopes import BASELINE  # the scope read tools need

    static_port, oauth_port = free_port(), free_port()
    oauth_resource = f"http://127.0.0.1:{oauth_port}/mcp"
    with local_issuer() as issuer:
        static_tokens = ["bench-static-" + secrets.token_hex(16) for _ in range(clients)]
        oauth_tokens = [issuer.token(f"person-{n}", oauth_resource, BASELINE) for n in range(clients)]
        key = {"MSGFLASH_PRINCIPAL_KEY": secrets.token_hex(16)}
        static_proc = start_server(static_port, {**key, "MSGFLASH_HTTP_TOKEN": ",".join(static_tokens)})
        # Deny by default: each signed-in person gets the viewer role the read tools need (server/auth/roles.py).
        roles = json.dumps({"personal": {f"sub:person-{n}": "viewer" for n in range(clients)}})
        oauth_proc = start_server(oauth_port, {**key, "MSGFLASH_OAUTH_ISSUER": issuer.issuer,
                                               "MSGFLASH_PUBLIC_URL": f"http://127.0.0.1:{oauth_port}",
                                               "MSGFLASH_ROLES": roles})
        modes = [Mode("static token", f"http://127.0.0.1:{static_port}/mcp", static_tokens, static_proc),
                 Mode("OAuth (JWT RS256)", oauth_resource, oauth_tokens, oauth_proc)]
        try:
            for mode in modes:
                await wait_ready(mode.url, mode.proc)
                await one_client(mode.url, 0, 1, [], mode.errors, mode.tokens[0])  # warm-up (and the JWKS fetch)
            per_round = max(1, calls // ROUNDS)
            with anyio.fail_after(BUDGET):
                for number in range(ROUNDS):
                    for mode in modes if number % 2 == 0 else modes[::-1]:
                        await round_of(mode, per_round)
            rss = [rss_kib(mode.proc.pid) for mode in modes]
        finally:
            for mode in modes:
                stop_server(mode.proc)
        static_us, oauth_us = await verifier_costs(issuer, static_tokens, oauth_tokens, oauth_resource)

    print(f"load --auth: {clients} clients x {per_round * ROUNDS} calls per mode, {ROUNDS} interleaved rounds "
          f"(loopback, rate limits off, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    print(f"  {'':22}{modes[0].name:>20}{modes[1].name:>20}")
    ordered = [sorted(mode.latencies) for mode in modes]
    rows = [
        ("calls/s", [f"{len(o) / m.elapsed:.0f}" for o, m in zip(ordered, modes, strict=True)]),
        ("latency p50 ms", [f"{statistics.median(o) * 1000:.2f}" if o else "-" for o in ordered]),
        ("latency p99 ms", [f"{percentile(o, 0.99) * 1000:.2f}" for o in ordered]),
        ("errors (target 0)", [str(len(m.errors)) for m in modes]),
        ("server RSS MiB", [f"{r / 1024:.1f}" if r else "-" for r in rss]),
        ("verify_token us/call", [f"{static_us:.1f}", f"{oauth_us:.1f}"]),
    ]
    for label, values in rows:
        print(f"  {label:22}{values[0]:>20}{values[1]:>20}")
    if all(ordered):
        extra = (statistics.median(ordered[1]) - statistics.median(ordered[0])) * 1000
        print(f"  OAuth costs {oauth_us - static_us:+.1f} us per call in the verifier (in-process, "
              f"{VERIFY_BLOCKS} interleaved blocks of {VERIFY_BLOCK}) and {extra:+.2f} ms at p50 end to end")
    for mode in modes:
        for line in mode.errors[:3]:
            print(f"    {mode.name}: {line}")
    return 1 if any(mode.errors for mode in modes) else 0


def main() -> int:
    args = sys.argv[1:]
    auth = "--auth" in args
    args = [a for a in args if a != "--auth"]
    clients = int(args[0]) if len(args) > 0 else 20
    calls = int(args[1]) if len(args) > 1 else 100
    if not (1 <= clients <= 200 and 1 <= calls <= 10_000):
        raise SystemExit("clients must be 1-200 and calls 1-10000")
    return anyio.run(run_auth if auth else run, clients, calls)


if __name__ == "__main__":
    raise SystemExit(main())
