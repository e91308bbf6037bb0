"""The README's tool table is generated from list_tools(); drift fails. UPDATE_README=1 rewrites it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client
from msgflash_mcp.tools import ALL_TOOLSETS

pytestmark = pytest.mark.anyio

README = Path(__file__).parents[2] / "README.md"
START, END = "<!-- tools:start -->", "<!-- tools:end -->"


async def render_table(client: Client) -> str:
    specs = {spec.name: spec for toolset in ALL_TOOLSETS for spec in toolset.specs}
    rows = ["| toolset | tool | effect | confirmation | what it does |", "|---|---|---|---|---|"]
    for tool in (await client.list_tools()).tools:
        spec = specs[tool.name]
        description = (tool.description or "").replace("\n", " ").replace("|", "\\|")
        guard = "yes" if spec.guarded else ""
        rows.append(f"| {spec.toolset} | `{tool.name}` | {spec.effect.value} | {guard} | {description} |")
    return "\n".join(rows)


async def test_readme_tool_table_is_current(client: Client) -> None:
    table = await render_table(client)
    text = README.read_text()
    assert START in text and END in text, "README.md needs the tools:start/tools:end markers"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    fresh = f"{head}{START}\n{table}\n{END}{tail}"
    if os.environ.get("UPDATE_README") == "1":
        README.write_text(fresh)
    assert text == fresh, "README tool table is stale: run the tests with UPDATE_README=1"
