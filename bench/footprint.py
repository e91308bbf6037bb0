"""Context cost of the tool catalogue, measured the way peer servers are compared (issue #13.6).

- Model-view tokens: o200k tokens of a compact JSON list of `{name, description, inputSchema}`,
  what a host puts in the model's context. Target <= 6,000.
- Wire bytes: the full `tools/list` result as compact JSON (output schemas and annotations
  included). Target <= 45,000.
Both are pinned in tests/contract/test_footprint.py; this prints them with a breakdown.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).parent))
from _tokens import token_counter
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import Settings
from msgflash_mcp.server.footprint import BYTE_TARGET, TOKEN_TARGET, model_view, tool_view, wire
from msgflash_mcp.tools import ALL_TOOLSETS


async def main() -> None:
    count, how = token_counter()
    server = build_server(Settings(sandbox=True, rate_limit=0), sandbox_app=create_app(SandboxConfig(rate_limit=0)))
    toolset_of = {spec.name: spec.toolset for ts in ALL_TOOLSETS for spec in ts.specs}
    async with Client(server) as client:
        result = await client.list_tools()
    tokens = count(model_view(result))
    size = len(wire(result).encode())
    with_schema = [tool for tool in result.tools if tool.output_schema]
    schema_bytes = sum(len(json.dumps(t.output_schema, separators=(",", ":"))) for t in with_schema)
    per_set: dict[str, int] = defaultdict(int)
    per_tool: list[tuple[int, str]] = []
    for tool in result.tools:
        own = count(tool_view(tool))
        per_set[toolset_of[tool.name]] += own
        per_tool.append((own, tool.name))
    print(f"tokenizer: {how}")
    print(f"tools: {len(result.tools)}   model-view tokens (JSON list of name, description, inputSchema): "
          f"{tokens:,} / {TOKEN_TARGET:,}   {'OK' if tokens <= TOKEN_TARGET else 'OVER'}")
    print(f"tools/list result: {size:,} / {BYTE_TARGET:,} bytes of compact JSON   "
          f"{'OK' if size <= BYTE_TARGET else 'OVER'}   ({len(with_schema)} output schemas, {schema_bytes:,} bytes)")
    print("tokens per toolset (each tool counted alone):")
    for name, own in sorted(per_set.items(), key=lambda item: -item[1]):
        print(f"  {name:<12} {own:>6}")
    print("largest tools:", ", ".join(f"{n} {t}" for t, n in sorted(per_tool, reverse=True)[:5]))


if __name__ == "__main__":
    anyio.run(main)
