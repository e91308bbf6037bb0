"""Resources, prompts, completions and protocol odds and ends (the agent experience around the tools).

Kept apart from the tools so `build_server` stays a wiring function.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import INVALID_PARAMS, EmptyResult, SetLevelRequestParams
from pydantic import ValidationError

from .prompts import register_prompts
from .resources import register_resources
from .runtime import Runtime
from .wire import json_object

log = logging.getLogger("msgflash_mcp")

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def answer_set_level(runtime: Runtime) -> ServerMiddleware[Any]:
    """Server middleware answering `logging/setLevel` (legacy clients and the conformance suite expect it).

    MCPServer has no handler for it (protocol logging is deprecated, SEP-2577), and the SDK's way to add
    one is the lowlevel server, which MCPServer keeps private. This server sends no protocol log
    notifications at all (its logs go to stderr), so accepting the level and remembering it is the whole
    job; the legacy `initialize` answer advertises `logging: {}` so clients know they may ask.
    """

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "logging/setLevel":
            try:
                params = SetLevelRequestParams.model_validate(ctx.params or {})
            except ValidationError:
                raise MCPError(code=INVALID_PARAMS, message="logging/setLevel needs params.level") from None
            if params.level not in LOG_LEVELS:
                raise MCPError(code=INVALID_PARAMS, message=f"unknown log level {params.level!r}")
            runtime.client_log_level = params.level
            return EmptyResult()
        result = await call_next(ctx)
        if ctx.method == "initialize" and (answer := json_object(result)) is not None:
            capabilities = json_object(answer.get("capabilities"))
            if capabilities is not None and "logging" not in capabilities:
                return {**answer, "capabilities": {**capabilities, "logging": {}}}
        return result

    return middleware


def register_extras(server: MCPServer[Any], runtime: Runtime) -> None:
    """Register resources, prompts, completions and the logging/setLevel handler on the server."""
    register_resources(server)
    register_prompts(server)
    server.middleware.append(answer_set_level(runtime))
