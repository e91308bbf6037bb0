"""Which protocol era a request speaks (a leaf: the principal, the binding and the body all ask)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_types.version import is_version_at_least

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context


def modern_era(ctx: Context) -> bool:
    """The 2026-07-28 protocol era: questions ride the tool call's own rounds (stateless, re-sendable)."""
    version = ctx.protocol_version
    return version is not None and is_version_at_least(version, "2026-07-28")
