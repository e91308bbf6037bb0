"""The catalogue's context cost stays within its targets (issue #13.6): sizes are deterministic, not timing.

Measured as peer servers are (server/footprint.py): o200k tokens of the JSON list of
`{name, description, inputSchema}` <= 6,000, and the whole `tools/list` result <= 45,000 bytes of
compact JSON. bench/footprint.py prints the breakdown when one of these fails.
"""

from __future__ import annotations

import pytest
from mcp import Client
from msgflash_mcp.server.footprint import BYTE_TARGET, TOKEN_TARGET, model_view, wire

pytestmark = pytest.mark.anyio

# Parameters described once in the server instructions instead of on every tool (~430 tokens), and ids
# (`<kind>_id`: "Ids come from list_* tools", ~200 tokens).
DESCRIBED_IN_INSTRUCTIONS = {"workspace", "confirm_token"}


def described_in_instructions(name: str) -> bool:
    return name in DESCRIBED_IN_INSTRUCTIONS or name.endswith("_id")


async def test_model_view_fits_the_token_target(client: Client) -> None:
    bpe_openai = pytest.importorskip("bpe_openai", reason="dev extra provides the offline o200k_base encoding")
    tokens = len(bpe_openai.get_encoding("o200k_base").encode(model_view(await client.list_tools())))
    assert tokens <= TOKEN_TARGET, f"model view is {tokens} tokens, over {TOKEN_TARGET} (run bench/footprint.py)"


async def test_tools_list_fits_the_byte_target(client: Client) -> None:
    size = len(wire(await client.list_tools()).encode())
    assert size <= BYTE_TARGET, f"tools/list is {size} bytes, over {BYTE_TARGET} (run bench/footprint.py)"


async def test_every_parameter_is_described_on_the_tool_or_in_the_instructions(client: Client) -> None:
    undescribed = [
        f"{tool.name}.{name}"
        for tool in (await client.list_tools()).tools
        for name, prop in tool.input_schema.get("properties", {}).items()
        if not prop.get("description") and not described_in_instructions(name)
    ]
    assert undescribed == []
    instructions = client.instructions or ""
    assert "optional `workspace` argument" in instructions
    assert "confirmation_required with a preview and confirm_token" in instructions
    assert "Ids come from list_* tools" in instructions


async def test_only_tools_with_a_data_model_declare_an_output_schema(client: Client) -> None:
    """An output schema says what `data` holds, or there is none: never the generic "any value"."""
    tools = (await client.list_tools()).tools
    declared = [tool for tool in tools if tool.output_schema]
    assert declared, "the tools with a response model declare it"
    for tool in declared:
        schema = tool.output_schema or {}
        assert schema["required"] == ["status", "summary"], tool.name
        data = schema["properties"]["data"]
        assert data.get("type") in ("object", "array") and "anyOf" not in data, tool.name
