"""stdio, for real: the installed `msgflash-mcp` console script as a subprocess, the SDK client on its pipes.

stdout is the protocol: the client rejects (and reports to its message handler) any line that is not
JSON-RPC, so a clean session plus an empty error list proves nothing else reached stdout. Human
output (the sandbox announcement) must go to stderr.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from msgflash_mcp.server import demo
from rich.console import Console

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(90)]  # subprocess start-ups, under load

SCRIPT = Path(sys.executable).parent / "msgflash-mcp"
DESKTOP_CONFIG = Path(__file__).parents[2] / "claude_desktop_config.example.json"
ENV = {"MSGFLASH_SANDBOX_DB": ":memory:", "MSGFLASH_LOG_LEVEL": "WARNING"}


def console_script() -> str:
    if not SCRIPT.exists():
        pytest.fail(f"console script not installed next to the interpreter: {SCRIPT} (run `make test`, pip install -e .)")
    return str(SCRIPT)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_console_script_over_stdio(mode: str, tmp_path: Path) -> None:
    params = StdioServerParameters(command=console_script(), args=["--sandbox"], env=ENV)
    problems: list[Any] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):  # e.g. a non-JSON line on stdout
            problems.append(message)

    errlog_path = tmp_path / "stderr.txt"
    with errlog_path.open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog), mode=mode, message_handler=on_message) as client:
            tools = (await client.list_tools()).tools
            result = await client.call_tool("list_instances", {})
    names = {tool.name for tool in tools}
    assert {"list_workspaces", "list_instances", "get_usage", "start_number_lookup"} <= names
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["summary"] == "2 instance(s), 1 connected"
    assert result.structured_content["workspace"] == "personal (sandbox)"
    assert problems == []
    stderr = errlog_path.read_text(encoding="utf-8")
    assert "SANDBOX" in stderr and "nothing reaches real people" in stderr


async def test_python_dash_m_runs_the_server() -> None:
    """`python -m msgflash_mcp.server` is the same entry point (the demo spawns it that way)."""
    with anyio.fail_after(60):
        async with Client(demo.server_parameters()) as client:
            result = await client.call_tool("list_workspaces", {})
    assert result.structured_content is not None
    assert "[sandbox]" in result.structured_content["summary"]


async def test_the_stdout_check_catches_stray_output(tmp_path: Path) -> None:
    """Control for the check above: the client survives a non-JSON line, so only the handler sees it."""
    code = "print('hello from a stray print', flush=True); from msgflash_mcp.server.__main__ import main; main(['--sandbox'])"
    params = StdioServerParameters(command=sys.executable, args=["-c", code], env=ENV)
    problems: list[Any] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):
            problems.append(message)

    with (tmp_path / "stderr.txt").open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog), message_handler=on_message) as client:
            await client.list_tools()
    assert len(problems) == 1 and "hello from a stray print" in str(problems[0])


async def test_demo_runs_every_step() -> None:
    """`make demo`: every scripted step exists in this build and succeeds, ending with a confirmed send."""
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False, color_system=None)
    session = await demo.run_session(console)
    text = out.getvalue()
    assert session.failed == [], text
    assert session.skipped == [], text
    for tool in ("list_workspaces", "get_instance_state", "create_group", "add_group_members", "preview_template",
                 "get_usage", "get_campaign_stats"):
        assert f"→ {tool}(" in text, tool
    assert "confirmation_required" in text and "What the user is asked to confirm" in text
    assert "Message queued to +33612345000" in text


def test_desktop_config_example_is_valid_json() -> None:
    servers = json.loads(DESKTOP_CONFIG.read_text(encoding="utf-8"))["mcpServers"]
    assert set(servers) == {"msgflash-sandbox", "msgflash"}
    assert all(entry["command"] == "msgflash-mcp" for entry in servers.values())
    assert servers["msgflash-sandbox"]["args"] == ["--sandbox"]
    assert "--sandbox" not in servers["msgflash"]["args"]
    assert servers["msgflash"]["env"]["MSGFLASH_API_KEY"].startswith("msgf_live_")


async def test_desktop_config_sandbox_entry_works_as_written() -> None:
    """Exactly what Claude Desktop would run (the command resolved in this venv instead of on PATH)."""
    entry = json.loads(DESKTOP_CONFIG.read_text(encoding="utf-8"))["mcpServers"]["msgflash-sandbox"]
    assert entry["command"] == SCRIPT.name
    params = StdioServerParameters(command=console_script(), args=entry["args"], env=entry.get("env"))
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:  # Desktop clients speak the handshake era
            result = await client.call_tool("get_usage", {})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["summary"].startswith("Pro plan: ")
