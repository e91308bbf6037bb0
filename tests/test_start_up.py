"""What a server does before it answers `tools/list`, and what it leaves to the first call (bench/latency.py
measures how long start-up takes; these tests pin what it does)."""

from __future__ import annotations

import subprocess
import sys

import httpx2
import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import PERSONAL_KEY
from msgflash_mcp.sandbox.on_first_use import SandboxOnFirstUse
from msgflash_mcp.server import runtime as runtime_module
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


async def test_the_default_sandbox_file_is_found_by_the_first_call_not_by_listing_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    def default_file() -> str:  # stands in for the user data folder (platformdirs, a mkdir): nothing on disk
        asked.append("asked")
        return ":memory:"

    monkeypatch.setattr(runtime_module, "default_sandbox_db", default_file)
    server = build_server(Settings(sandbox=True, sandbox_db=None, rate_limit=0))
    async with Client(server) as client:
        assert len((await client.list_tools()).tools) > 50
        assert asked == []
        assert "found on first use" in repr(server.runtime.sandbox_app)
        await call_ok(client, "list_instances", {})
        await call_ok(client, "list_instances", {})
    assert asked == ["asked"], "the first call finds the file, once"


def test_the_stdio_start_up_path_loads_no_jwt_stack_and_no_data_folder_lookup() -> None:
    # A fresh interpreter: this test process has long imported everything. What `msgflash-mcp` imports before it
    # serves stdio; the OAuth resource server (PyJWT, cryptography's x509) is for HTTP only.
    probe = (
        "import sys\n"
        "import msgflash_mcp.server.__main__, msgflash_mcp.server.transport.serve, msgflash_mcp.server.logs\n"
        "print(sorted(m for m in ('jwt', 'cryptography.x509', 'platformdirs') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_listing_tools_builds_no_arguments_output_or_button_model() -> None:
    # A fresh interpreter (this one has built them all). The listing reads the published schemas
    # (server/call/published.py); each model is built by the first call that validates with it.
    probe = (
        "import anyio\n"
        "from msgflash_mcp.server.app import build_server, selected_specs\n"
        "from msgflash_mcp.server.call import build_tool\n"
        "from msgflash_mcp.server.core.settings import Settings\n"
        "settings = Settings(sandbox=True, sandbox_db=':memory:', rate_limit=0)\n"
        "listed = anyio.run(build_server(settings).list_tools)\n"
        "specs = selected_specs(settings)\n"
        "args = [build_tool(spec).fn_metadata.arg_model for spec in specs]  # the server's own (built once)\n"
        "outputs = [spec.output for spec in specs if spec.output is not None]\n"
        "from msgflash_mcp.tools._content import BUTTON_KINDS  # buttons: built by the first message that has some\n"
        "models = args + outputs + list(BUTTON_KINDS)\n"
        "print(len(listed), len(args), [m.__name__ for m in models if m.__pydantic_complete__])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    listed, built, complete = out.stdout.strip().split(" ", 2)
    assert int(built) > 50 and int(listed) >= int(built)  # the MCP Apps card's own tools come on top
    assert complete == "[]", f"built before any call: {complete}"


def test_the_stdio_start_up_path_loads_no_toml_parser() -> None:
    # tomllib is for MSGFLASH_CONFIG only (server/core/settings.py): a start-up without a config file skips it.
    probe = (
        "import sys\n"
        "import msgflash_mcp.server.__main__, msgflash_mcp.server.transport.serve, msgflash_mcp.server.logs\n"
        "from msgflash_mcp.server.core.settings import load_settings\n"
        "load_settings(sandbox=True)\n"
        "print('tomllib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
