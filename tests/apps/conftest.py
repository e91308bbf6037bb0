"""MCP Apps test helpers: a client that negotiated Apps, and the card's confirmation read from a result."""

from __future__ import annotations

from typing import Any

from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

CONFIRM_META = "io.msgflash/confirm"


def apps_extension() -> Any:
    """What an MCP Apps host advertises (ext-apps: the extension with the app MIME type)."""
    return advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


def card_confirmation(result: Any) -> dict[str, Any]:
    meta = result.meta or {}
    assert CONFIRM_META in meta, f"no card confirmation in _meta: {meta}"
    return meta[CONFIRM_META]


async def connected_instance(client: Any) -> str:
    instances = (await client.call_tool("list_instances", {})).structured_content["data"]
    return next(i["id"] for i in instances if i["status"] == "connected")
