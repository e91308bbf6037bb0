"""The catalogue's context cost stays within budget (issue #3): tokens are deterministic, not timing.

bench/footprint.py prints the breakdown; this fails the build when a change pushes the whole
catalogue (name + description + inputSchema, o200k_base) over 6,000 tokens.
"""

from __future__ import annotations

import json

import pytest
from mcp import Client

pytestmark = pytest.mark.anyio

BUDGET = 6000


async def test_catalogue_fits_the_token_budget(client: Client) -> None:
    bpe_openai = pytest.importorskip("bpe_openai", reason="dev extra provides the offline o200k_base encoding")
    encoding = bpe_openai.get_encoding("o200k_base")
    tools = (await client.list_tools()).tools
    total = 0
    for tool in tools:
        text = tool.name + "\n" + (tool.description or "") + "\n" + json.dumps(tool.input_schema, separators=(",", ":"))
        total += len(encoding.encode(text))
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
    assert total <= BUDGET, f"tool catalogue is {total} tokens, over the {BUDGET} budget (see bench/footprint.py)"
