"""How the tool catalogue's context cost is measured (issue #13.6), in one place for bench and tests.

- `model_view`: what a host puts in the model's context for our tools, as peer servers are
  compared: a compact JSON list of `{name, description, inputSchema}` (count it with o200k_base).
- `wire`: the whole `tools/list` result as compact JSON (output schemas, annotations, titles).
"""

from __future__ import annotations

import json
from typing import Any

from mcp.types import ListToolsResult

TOKEN_TARGET = 6_000  # o200k tokens of model_view
BYTE_TARGET = 45_000  # bytes of wire


def model_view(result: ListToolsResult) -> str:
    view = [{"name": t.name, "description": t.description, "inputSchema": t.input_schema} for t in result.tools]
    return _compact(view)


def tool_view(tool: Any) -> str:
    """One tool's share of `model_view` (for per-tool and per-toolset breakdowns)."""
    return _compact({"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema})


def wire(result: ListToolsResult) -> str:
    return _compact(result.model_dump(mode="json", by_alias=True, exclude_none=True))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
