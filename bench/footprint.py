"""Context cost of the tool catalogue: tokens of name + description + inputSchema, whole and per toolset.

Budget (issue #3): <= 6,000 tokens for the whole catalogue, without dropping parameter descriptions.
Also prints the bytes of the full tools/list result (output schemas and annotations included).
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
from msgflash_mcp.server.settings import Settings
from msgflash_mcp.tools import ALL_TOOLSETS

BUDGET = 6000


async def main() -> None:
    count, how = token_counter()
    server = build_server(Settings(sandbox=True, rate_limit=0), sandbox_app=create_app(SandboxConfig(rate_limit=0)))
    toolset_of = {spec.name: spec.toolset for ts in ALL_TOOLSETS for spec in ts.specs}
    async with Client(server) as client:
        result = await client.list_tools()
    per_set: dict[str, int] = defaultdict(int)
    per_tool: list[tuple[int, str]] = []
    for tool in result.tools:
        text = tool.name + "\n" + (tool.description or "") + "\n" + json.dumps(tool.input_schema, separators=(",", ":"))
        tokens = count(text)
        per_set[toolset_of[tool.name]] += tokens
        per_tool.append((tokens, tool.name))
    total = sum(per_set.values())
    wire = len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":")))
    print(f"tokenizer: {how}")
    print(f"tools: {len(result.tools)}   catalogue tokens (name+description+inputSchema): {total}   budget: {BUDGET}   "
          f"{'OK' if total <= BUDGET else 'OVER BUDGET'}   per tool: {total / max(1, len(result.tools)):.0f}")
    print(f"full tools/list result: {wire:,} bytes of compact JSON")
    for name, tokens in sorted(per_set.items(), key=lambda item: -item[1]):
        print(f"  {name:<12} {tokens:>6}")
    print("largest tools:", ", ".join(f"{n} {t}" for t, n in sorted(per_tool, reverse=True)[:5]))


if __name__ == "__main__":
    anyio.run(main)
