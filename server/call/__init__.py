"""One tool call, from typed arguments to the MCP result: binding, confirmation, execution, outcome."""

from .pipeline import bind_route, build_tool, compact_schema, principal_of

__all__ = ["bind_route", "build_tool", "compact_schema", "principal_of"]
