"""The real stdio process: stdout carries only JSON-RPC, stderr never a key (DEBUG logging on)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from .conftest import CANARY_PERSONAL, CANARY_TEAM, canary_teams, leaked
from .requirements import requirement

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(90)]  # subprocess start-ups, under load

REQUESTS: list[dict[str, Any]] = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize",
     "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "trust", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
    {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_instances", "arguments": {}}},
    {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "get_contact", "arguments": {"contact_id": "../x"}}},
    {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
     "params": {"name": "get_contact", "arguments": {"contact_id": "00000000-0000-4000-8000-000000000000"}}},
    {"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "get_usage", "arguments": {}}},
    {"jsonrpc": "2.0", "id": 7, "method": "no/such/method", "params": {}},
]


async def run_stdio(env: dict[str, str]) -> tuple[list[str], str]:
    """Drive `python -m msgflash_mcp.server` over raw pipes; return stdout lines and stderr."""
    full_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
                "MSGFLASH_SANDBOX_DB": ":memory:", **env}
    with anyio.fail_after(60):
        async with await anyio.open_process([sys.executable, "-m", "msgflash_mcp.server"], env=full_env) as proc:
            assert proc.stdin and proc.stdout and proc.stderr
            stderr_chunks: list[bytes] = []

            async def drain_stderr() -> None:
                async for chunk in proc.stderr:  # type: ignore[union-attr]
                    stderr_chunks.append(chunk)

            lines: list[str] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(drain_stderr)
                reader = BufferedByteReceiveStream(proc.stdout)
                pending = {r["id"] for r in REQUESTS if "id" in r}
                for request in REQUESTS:
                    await proc.stdin.send((json.dumps(request) + "\n").encode())
                while pending:
                    line = (await reader.receive_until(b"\n", 10 * 1024 * 1024)).decode()
                    lines.append(line)
                    message = json.loads(line)
                    pending.discard(message.get("id"))
                await proc.stdin.aclose()
                await proc.wait()
    return lines, b"".join(stderr_chunks).decode(errors="replace")


@requirement("proto.stdio-clean-stdout")
async def test_stdout_is_only_json_rpc() -> None:
    lines, stderr = await run_stdio({"MSGFLASH_SANDBOX": "1", "MSGFLASH_LOG_LEVEL": "DEBUG"})
    ids = set()
    for line in lines:
        message = json.loads(line)  # every line parses
        assert message.get("jsonrpc") == "2.0", line[:200]
        assert ("id" in message and ("result" in message or "error" in message)) or "method" in message, line[:200]
        ids.add(message.get("id"))
    assert {1, 2, 3, 4, 5, 6, 7} <= ids
    assert stderr.strip(), "logs go to stderr"


@requirement("secret.canary-nowhere")
async def test_stdio_stderr_never_shows_a_key_at_debug() -> None:
    env = {
        "MSGFLASH_API_KEY": CANARY_PERSONAL,
        "MSGFLASH_TEAMS": json.dumps(canary_teams()),
        "MSGFLASH_BASE_URL": "http://127.0.0.1:9",  # discard port: every request fails to connect
        "MSGFLASH_LOG_LEVEL": "DEBUG",
        "MSGFLASH_CALL_DEADLINE": "5",
    }
    lines, stderr = await run_stdio(env)
    assert stderr.strip()
    assert not leaked([stderr, *lines]), leaked([stderr, *lines])[:3]
    assert CANARY_TEAM not in stderr
