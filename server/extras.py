"""Resources, prompts, completions and protocol odds and ends (the agent experience around the tools).

Kept apart from the tools so `build_server` stays a wiring function.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.types import INVALID_PARAMS, EmptyResult, SetLevelRequestParams

from .prompts import register_prompts
from .resources import register_resources
from .runtime import Runtime

log = logging.getLogger("msgflash_mcp")

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def register_logging(server: MCPServer[Any], runtime: Runtime) -> None:
    """Answer `logging/setLevel` (legacy clients and the conformance suite expect it).

    MCPServer has no handler for it (protocol logging is deprecated, SEP-2577). This server sends no
    protocol log notifications at all (its logs go to stderr), so accepting the level and
    remembering it is the whole job. Registering the handler also advertises `logging: {}`.
    """

    async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
        if params.level not in LOG_LEVELS:
            raise MCPError(code=INVALID_PARAMS, message=f"unknown log level {params.level!r}")
        runtime.extras["client_log_level"] = params.level
        return EmptyResult()

    server._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)  # pyright: ignore[reportPrivateUsage]


def register_extras(server: MCPServer[Any], runtime: Runtime) -> None:
    """Register resources, prompts, completions and the logging/setLevel handler on the server."""
    register_resources(server)
    register_prompts(server)
    register_logging(server, runtime)
