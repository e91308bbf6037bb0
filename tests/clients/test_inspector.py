"""MCP Inspector 2.12.0 CLI against `msgflash-mcp --sandbox`, over stdio and over Streamable HTTP.

`tools/list --strict --format json` lints every tool schema for portability: the envelope carries
`schemaFindings` when there is any finding (warnings included), and the exit code is 6 on errors.
We require zero findings. Then a `tools/call` round trip (list_instances) on each transport.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import INSPECTOR, MSGFLASH_MCP, Completed, RunningServer, run, server_env

pytestmark = [pytest.mark.anyio, pytest.mark.npm, pytest.mark.slow, pytest.mark.timeout(120)]  # Node clients + a server

STDIO_TARGET = [str(MSGFLASH_MCP), "--sandbox"]


def inspector_env(tmp_path: Path) -> dict[str, str]:
    env = server_env()
    env["MCP_CATALOG_PATH"] = str(tmp_path / "catalog.json")  # never the user's ~/.mcp-inspector
    env["HOME"] = str(tmp_path)
    return env


async def inspect(node: Path, tmp_path: Path, *args: str) -> Completed:
    # The Inspector gives a server 15 s to connect; a cold start on a loaded 2-core CI machine can take longer.
    command = [str(node), str(INSPECTOR), "--cli", "--format", "json", "--connect-timeout", "60000", *args]
    return await run(command, limit=120, env=inspector_env(tmp_path), cwd=tmp_path)


def envelope(done: Completed) -> dict[str, Any]:
    assert done.returncode == 0, f"inspector exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    lines = [line for line in done.stdout.splitlines() if line.strip().startswith("{")]
    assert lines, f"no JSON on stdout:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(lines[-1])


def check_tools_list(done: Completed) -> None:
    out = envelope(done)
    assert "schemaFindings" not in out, json.dumps(out.get("schemaFindings"), indent=1)[:4000]
    assert "Schema portability" not in done.stderr, done.stderr[-3000:]
    names = [tool["name"] for tool in out["result"]["tools"]]
    assert "list_instances" in names and "list_workspaces" in names
    assert len(names) == len(set(names))


def check_list_instances(done: Completed) -> None:
    result = envelope(done)["result"]
    assert result.get("isError") is not True, result
    structured = result["structuredContent"]
    assert structured["status"] == "ok"
    assert structured["workspace"].endswith("(sandbox)")
    assert isinstance(structured["data"], list) and structured["data"], structured
    assert all("status" in instance for instance in structured["data"])
    assert "instance(s)" in result["content"][0]["text"]


async def test_stdio_tools_list_strict_has_no_findings(node: Path, tmp_path: Path) -> None:
    check_tools_list(await inspect(node, tmp_path, "--method", "tools/list", "--strict", *STDIO_TARGET))


async def test_stdio_tools_call_round_trip(node: Path, tmp_path: Path) -> None:
    done = await inspect(node, tmp_path, "--method", "tools/call", "--tool-name", "list_instances", *STDIO_TARGET)
    check_list_instances(done)


async def test_http_tools_list_and_call(node: Path, tmp_path: Path, http_server: RunningServer) -> None:
    listed = await inspect(node, tmp_path, "--method", "tools/list", "--strict", http_server.url)
    check_tools_list(listed)
    called = await inspect(node, tmp_path, "--method", "tools/call", "--tool-name", "list_instances", http_server.url)
    check_list_instances(called)
    assert http_server.process.returncode is None, http_server.output()

