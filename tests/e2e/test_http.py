"""Streamable HTTP, in-process: the real ASGI app from server/transport/serve.py, its lifespan running, no port.

Bearer token (MSGFLASH_HTTP_TOKEN), DNS-rebinding protection (Host -> 421, Origin -> 403) and a full
MCP session through the SDK client on both protocol eras.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.server.transport.serve import http_app

from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

TOKEN = "e2e-http-token-4f1c9a"
PORT = 8765  # http_app's default: the allowed Host/Origin values are derived from it
BASE = f"http://127.0.0.1:{PORT}"
ENDPOINT = f"{BASE}/mcp"
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, sandbox_app: Any) -> Any:
    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", TOKEN)
    settings = make_settings()
    assert settings.http_token is not None
    return http_app(settings, port=PORT, sandbox_app=sandbox_app)


@asynccontextmanager
async def running(app: Any, token: str | None = None) -> AsyncIterator[httpx2.AsyncClient]:
    """The app's lifespan (it starts mcp's session manager) plus an HTTP client wired to it in-process."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with anyio.fail_after(30):
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url=BASE, headers=headers, timeout=20) as http:
                yield http


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_right_token_lists_tools_and_calls_one(app: Any, mode: str) -> None:
    async with running(app, TOKEN) as http, Client(streamable_http_client(ENDPOINT, http_client=http), mode=mode) as client:
        with anyio.fail_after(20):
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"list_instances", "get_usage", "start_number_lookup", "list_workspaces"} <= names
            result = await client.call_tool("list_instances", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["status"] == "ok"
    assert result.structured_content["workspace"] == "personal (sandbox)"
    assert result.structured_content["summary"] == "2 instance(s), 1 connected"


async def test_no_token_is_401(app: Any) -> None:
    async with running(app) as http:
        with anyio.fail_after(10):
            response = await http.post("/mcp", json=LIST_TOOLS, headers=ACCEPT)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert "resource_metadata" in response.headers["www-authenticate"]


async def test_wrong_token_is_401(app: Any) -> None:
    async with running(app, "not-the-token") as http:
        with anyio.fail_after(10):
            response = await http.post("/mcp", json=LIST_TOOLS, headers=ACCEPT)
    assert response.status_code == 401
    assert TOKEN not in response.text


async def test_client_without_token_cannot_connect(app: Any, sandbox_app: Any) -> None:
    caught: BaseException | None = None
    async with running(app) as http:
        try:
            with anyio.fail_after(20):
                async with Client(streamable_http_client(ENDPOINT, http_client=http)) as client:
                    await client.call_tool("list_instances", {})
        except Exception as exc:  # the SDK wraps the refusal in task-group exception groups
            caught = exc
    assert caught is not None, "an unauthenticated client must not get a session"
    assert any(isinstance(exc, MCPError) for exc in _leaves(caught)), repr(caught)
    assert sandbox_app.state.sandbox.ledger == []  # nothing reached the API


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


async def test_foreign_host_is_421(app: Any) -> None:
    async with running(app, TOKEN) as http:
        with anyio.fail_after(10):
            response = await http.post("/mcp", json=LIST_TOOLS, headers={**ACCEPT, "Host": "evil.example"})
    assert response.status_code == 421
    assert "Invalid Host header" in response.text


async def test_foreign_origin_is_403(app: Any) -> None:
    async with running(app, TOKEN) as http:
        with anyio.fail_after(10):
            response = await http.post("/mcp", json=LIST_TOOLS, headers={**ACCEPT, "Origin": "http://evil.example"})
    assert response.status_code == 403
    assert "Invalid Origin header" in response.text


async def test_loopback_origin_is_accepted(app: Any) -> None:
    async with running(app, TOKEN) as http:
        with anyio.fail_after(10):
            response = await http.post("/mcp", json=LIST_TOOLS, headers={**ACCEPT, "Origin": BASE})
    assert response.status_code not in (401, 403, 421)
