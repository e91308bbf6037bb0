"""Clients that did not negotiate MCP Apps see the plain server: no `_meta.ui` on tools, no app-only tools,
no `ui://` resources (tests/apps/test_plain_clients.py compares them with what a server without Apps shows)."""

from __future__ import annotations

from typing import Any

from mcp.server.apps import client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, TextContent

from ..wire import json_object
from .views import LEGACY_URI_KEY


def _meta_of(item: object) -> dict[str, Any]:
    return json_object((json_object(item) or {}).get("_meta")) or {}


def _is_app_only(tool: dict[str, Any]) -> bool:
    return (json_object(_meta_of(tool).get("ui")) or {}).get("visibility") == ["app"]


def _plain_tool(tool: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in _meta_of(tool).items() if k not in ("ui", LEGACY_URI_KEY)}
    plain = {k: v for k, v in tool.items() if k != "_meta"}
    if meta:
        plain["_meta"] = meta
    return plain


async def hide_from_plain_clients(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: strips the Apps surface from what a plain client lists and calls.

    Results reach middleware serialised (wire dicts), so this edits dicts."""
    method = ctx.method
    if method not in ("tools/list", "tools/call", "resources/list") or client_supports_apps(ctx):
        return await call_next(ctx)
    if method == "tools/call":
        name = (ctx.params or {}).get("name")
        if isinstance(name, str) and name.startswith("app_"):
            # What the SDK answers for a tool that does not exist, word for word.
            return CallToolResult(content=[TextContent(type="text", text=f"Unknown tool: {name}")], is_error=True)
        return await call_next(ctx)
    result = await call_next(ctx)
    if not isinstance(result, dict):
        return result
    if method == "tools/list" and isinstance(result.get("tools"), list):
        tools: list[dict[str, Any]] = result["tools"]
        return {**result, "tools": [_plain_tool(t) for t in tools if not _is_app_only(t)]}
    if method == "resources/list" and isinstance(result.get("resources"), list):
        kept = [r for r in result["resources"] if not str(r.get("uri", "")).startswith("ui://")]
        return {**result, "resources": kept}
    return result
