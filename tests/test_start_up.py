"""What a server does before it answers `tools/list`, and what it leaves to the first call (bench/latency.py
measures how long start-up takes; these tests pin what it does)."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import PERSONAL_KEY
from msgflash_mcp.sandbox.on_first_use import SandboxOnFirstUse
from msgflash_mcp.server.api.on_first_request import TransportOnFirstRequest
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import Settings
from pydantic import SecretStr

from tests.conftest import call_ok

pytestmark = pytest.mark.anyio


async def test_listing_tools_leaves_the_embedded_sandbox_unmade_until_a_call_needs_it() -> None:
    server = build_server(Settings(sandbox=True, sandbox_db=":memory:", rate_limit=0))
    sandbox = server.runtime.sandbox_app
    assert isinstance(sandbox, SandboxOnFirstUse) and server.runtime.is_sandbox
    async with Client(server) as client:
        tools = await client.list_tools()
        assert len(tools.tools) > 50
        assert not sandbox.built
        found = await call_ok(client, "list_instances", {})
    assert sandbox.built
    assert found["data"], "the sandbox made on the first call answers with its seeded instances"
    assert any(entry["path"] == "/api/v1/instances" for entry in sandbox.state.sandbox.ledger)


async def test_the_socket_transport_is_made_by_the_first_request_and_only_once() -> None:
    made: list[httpx2.MockTransport] = []

    def make() -> httpx2.AsyncBaseTransport:
        transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json={"path": request.url.path}))
        made.append(transport)
        return transport

    transport = TransportOnFirstRequest(make)
    async with httpx2.AsyncClient(transport=transport, base_url="https://api.example") as http:
        assert made == [] and not transport.made  # a client alone sends nothing, so it makes nothing
        first = await http.get("/api/v1/me")
        second = await http.get("/api/v1/instances")
    assert len(made) == 1 and transport.made
    assert (first.json(), second.json()) == ({"path": "/api/v1/me"}, {"path": "/api/v1/instances"})


async def test_a_transport_never_used_closes_without_making_one() -> None:
    transport = TransportOnFirstRequest(lambda: pytest.fail("closing must not make the transport"))
    await transport.aclose()
    assert not transport.made


async def test_a_server_with_an_api_key_lists_its_tools_without_opening_a_socket_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> httpx2.AsyncBaseTransport:
        pytest.fail("the socket transport (and its SSL context) was made before any request")

    monkeypatch.setattr(httpx2, "AsyncHTTPTransport", refuse)
    server = build_server(Settings(api_key=SecretStr(PERSONAL_KEY), sandbox=False, rate_limit=0, base_url="https://api.example"))
    assert not server.runtime.is_sandbox
    async with Client(server) as client:
        assert len((await client.list_tools()).tools) > 50
