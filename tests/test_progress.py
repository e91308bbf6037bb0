"""Tool functions can report progress: `CallContext.report_progress` reaches the client's progress callback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.server.call import CallContext, build_tool
from msgflash_mcp.server.core.results import Reply
from msgflash_mcp.server.registry import GET, Effect, NoArgs, Toolset
from msgflash_mcp.server.runtime import Connection, Runtime, connect

from .conftest import make_settings

pytestmark = pytest.mark.anyio

toolset = Toolset("test", "progress test")


@toolset.tool(GET("/api/v1/instances"), Effect.READ)
async def count_instances_slowly(call: CallContext, args: NoArgs) -> Reply:
    """Reads instances and reports one progress step per instance."""
    instances = await call.api()
    for index, _ in enumerate(instances, start=1):
        await call.report_progress(index, len(instances), f"instance {index}")
    return Reply(f"{len(instances)} instance(s)", {"count": len(instances)})


def progress_server(sandbox_app: Any) -> MCPServer[Connection]:
    runtime = Runtime.create(make_settings(), sandbox_app=sandbox_app)

    @asynccontextmanager
    async def lifespan(server: MCPServer[Connection]) -> AsyncIterator[Connection]:
        async with connect(runtime) as connection:
            yield connection

    return MCPServer("progress", tools=[build_tool(spec) for spec in toolset.specs], lifespan=lifespan)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_report_progress_reaches_the_client(sandbox_app: Any, mode: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(progress_server(sandbox_app), mode=mode) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("count_instances_slowly", {}, progress_callback=on_progress)
    assert not result.is_error
    count = result.structured_content["data"]["count"]
    assert count >= 1
    assert seen == [(i, count, f"instance {i}") for i in range(1, count + 1)]


async def test_report_progress_without_a_callback_is_harmless(sandbox_app: Any) -> None:
    async with Client(progress_server(sandbox_app)) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("count_instances_slowly", {})
    assert not result.is_error and result.structured_content["status"] == "ok"
