"""At DEBUG, stderr still shows no secret: the real console script over stdio and Streamable HTTP, both eras.

The server runs as a user would run it (`msgflash-mcp`, a subprocess, its stderr captured), with
`MSGFLASH_LOG_LEVEL=DEBUG`, two HTTP tokens, and token confirmations. Each session mints a
confirmation token and redeems it for a webhook whose signing secret comes back in the result:
those, the sandbox keys and each HTTP token are the canaries. `MSGFLASH_LOG_LEVEL=DEBUG` alone
must leave third-party loggers at WARNING (at DEBUG sse_starlette logs whole responses); with
`MSGFLASH_LOG_LEVEL_ALL=DEBUG` they do log, and scrubbing must still hold.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_KEY, TEAM_NAME

from .requirements import requirement

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(90)]  # subprocess start-ups, under load

SCRIPT = Path(sys.executable).parent / "msgflash-mcp"
HTTP_TOKENS = ("canary-http-token-one-7d1e0c2b", "canary-http-token-two-94af3e60")
HOOK = {"url": "https://hooks.example.org/canary", "events": ["message.received"]}
# `2026-07-28 12:00:00,123 DEBUG msgflash_mcp.api: ...` (server/logs.py's format)
RECORD = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ([\w.]+): ", re.MULTILINE)


def environment(level_all: str | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "MSGFLASH_SANDBOX": "1",
        "MSGFLASH_SANDBOX_DB": ":memory:",
        "MSGFLASH_LOG_LEVEL": "DEBUG",
        "MSGFLASH_CONFIRM": "token",
        "MSGFLASH_HTTP_TOKEN": ",".join(HTTP_TOKENS),
    }
    if level_all:
        env["MSGFLASH_LOG_LEVEL_ALL"] = level_all
    return env


async def exercise(client: Client) -> list[str]:
    """Mint a confirmation token, redeem it for a webhook (its secret is returned), touch both workspaces.

    Returns the secrets the session produced."""
    await client.list_tools()
    for workspace in ("personal", TEAM_NAME):
        assert not (await client.call_tool("list_instances", {"workspace": workspace})).is_error
    preview = (await client.call_tool("create_webhook", HOOK)).structured_content
    assert preview is not None and preview["status"] == "confirmation_required", preview
    token = preview["confirm_token"]
    done = (await client.call_tool("create_webhook", {**HOOK, "confirm_token": token})).structured_content
    assert done is not None and done["status"] == "ok", done
    other = {**HOOK, "url": "https://elsewhere.example.org/x", "confirm_token": token}
    assert (await client.call_tool("create_webhook", other)).is_error  # bound to other arguments: refused
    return [token, done["data"]["secret"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def http_server(env: dict[str, str], errlog: Any) -> AsyncIterator[str]:
    port = _free_port()
    command = [str(SCRIPT), "--transport", "http", "--port", str(port)]
    proc = await anyio.open_process(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        with anyio.fail_after(30):  # start-up
            while True:
                try:
                    await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                    break
                except OSError:
                    assert proc.returncode is None, "the HTTP server exited at start-up"
                    await anyio.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        with anyio.move_on_after(10, shield=True):
            await proc.wait()
        if proc.returncode is None:
            proc.kill()
            with anyio.move_on_after(10, shield=True):
                await proc.wait()


async def run_session(transport: str, mode: str, env: dict[str, str], errlog: Any) -> list[str]:
    if transport == "stdio":
        params = StdioServerParameters(command=str(SCRIPT), args=[], env=env)
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            return await exercise(client)
    secrets: list[str] = []
    async with http_server(env, errlog) as url:
        # One server, a session per era and per token: each principal's token crosses the wire.
        for era, token in zip(("legacy", "auto"), HTTP_TOKENS, strict=True):
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx2.AsyncClient(headers=headers, timeout=20) as http, Client(
                streamable_http_client(url, http_client=http), mode=era
            ) as client:
                secrets += await exercise(client)
    return secrets


def records(stderr: str) -> list[tuple[str, str]]:
    return RECORD.findall(stderr)


@requirement("secret.canary-nowhere", "secret.log-scrubbing")
@pytest.mark.parametrize(
    ("transport", "mode", "level_all"),
    [("stdio", "auto", None), ("stdio", "legacy", "DEBUG"), ("http", "both", None), ("http", "both", "DEBUG")],
    ids=["stdio-modern-era", "stdio-legacy-era-all-debug", "http-both-eras", "http-both-eras-all-debug"],
)  # each era and each level on each transport; one HTTP server serves both eras (a session per token)
async def test_no_secret_reaches_stderr_at_debug(transport: str, mode: str, level_all: str | None, tmp_path: Path) -> None:
    if not SCRIPT.exists():
        pytest.fail(f"console script not installed next to the interpreter: {SCRIPT} (pip install -e .)")
    env = environment(level_all)
    path = tmp_path / "stderr.txt"
    with path.open("w", encoding="utf-8") as errlog, anyio.fail_after(80):
        produced = await run_session(transport, mode, env, errlog)
    stderr = path.read_text(encoding="utf-8")

    # Not vacuous: the session produced the secrets, and the product logged at DEBUG.
    assert len(produced) == (2 if transport == "stdio" else 4)
    assert all(s.startswith(("cfm_", "whsec_")) for s in produced)
    found = records(stderr)
    assert any(level == "DEBUG" and name.startswith("msgflash_mcp") for level, name in found), stderr[-2000:]
    foreign = {name for level, name in found if level in ("DEBUG", "INFO") and not name.startswith("msgflash_mcp")}
    if level_all is None:
        assert not foreign, f"third-party loggers below WARNING without MSGFLASH_LOG_LEVEL_ALL: {sorted(foreign)}"
    else:
        assert foreign, "MSGFLASH_LOG_LEVEL_ALL=DEBUG should let the SDK's own loggers speak"

    canaries = [*produced, PERSONAL_KEY, TEAM_KEY, *HTTP_TOKENS, ",".join(HTTP_TOKENS)]
    leaks = [c[:12] + "..." for c in canaries if c in stderr]
    assert not leaks, f"secrets on stderr: {leaks}"
    if transport == "http" and level_all:  # the leak path: sse_starlette logging whole legacy responses
        assert re.search(r'confirm_token\\*":\\*"\[redacted\]', stderr), "expected the SSE chunk, masked"
        assert re.search(r'secret\\*":\\*"\[redacted\]', stderr), "expected the webhook secret, masked"
